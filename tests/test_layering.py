"""The layers point one way: a module in ``theset_daemon/broker/`` imports nothing of TheSet outside it.

The broker is given what it needs (its queue table, the kwargs its log lines carry);
the application imports the broker, never the reverse. Read from the source with
``ast``, so a function-level import counts too.

And every module says what it needs at its top: no import inside a function
(unless its line says ``# cycle: <why>``, for a documented cycle), and no data
file found by counting parent folders (``Path(__file__).parents``): the package's
files are read through ``importlib.resources``.
"""

from __future__ import annotations

import ast
from importlib import resources
import re
from typing import Iterator

BROKER = "theset_daemon.broker"


def imported(source: str, package: str) -> Iterator[str]:
    """Every module ``source`` imports (relative ones resolved against ``package``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            if node.module is None:  # from .. import x: x may be a module
                yield from (f"{module}.{alias.name}" for alias in node.names)
            else:
                yield module


def broker_modules() -> Iterator[tuple[str, str]]:
    """(package, source) of every module under theset_daemon/broker/, sub-packages included."""
    return modules_of(BROKER)


def modules_of(top: str) -> Iterator[tuple[str, str]]:
    """(package, source) of every module of package ``top``, sub-packages included."""
    folders = [(top, resources.files(top))]
    while folders:
        package, folder = folders.pop()
        for entry in folder.iterdir():
            if entry.is_dir() and (entry / "__init__.py").is_file():
                folders.append((f"{package}.{entry.name}", entry))
            elif entry.name.endswith(".py"):
                yield package, entry.read_text()


def outside_the_broker(module: str) -> bool:
    return module.startswith("theset_daemon") and module != BROKER and not module.startswith(BROKER + ".")


def test_the_reader_resolves_relative_imports_and_sees_function_level_ones():
    source = "from . import job\nfrom ..metrics import JOBS\ndef f():\n    from .. import queues\n    import theset_daemon.logs\n"
    assert {m for m in imported(source, BROKER) if outside_the_broker(m)} == {
        "theset_daemon.metrics", "theset_daemon.queues", "theset_daemon.logs"
    }


def test_the_broker_imports_nothing_outside_itself():
    modules = list(broker_modules())
    assert len(modules) >= 15  # the whole package was read
    outside = sorted({m for package, source in modules for m in imported(source, package) if outside_the_broker(m)})
    assert outside == []


def function_level_imports(source: str) -> Iterator[str]:
    """``line: import`` of every import inside a function, but those marked ``# cycle: <why>``."""
    lines = source.splitlines()
    for function in ast.walk(ast.parse(source)):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and "# cycle:" not in lines[node.lineno - 1]:
                    yield f"{node.lineno}: {ast.unparse(node)} (in {function.name})"


#: Counting parent folders from a module's own file, in any spelling.
PARENTS = re.compile(r"__file__\)?(\.resolve\(\))?\.(parents\b|parent\.parent\b)")


def all_modules() -> list[tuple[str, str]]:
    return [*modules_of("theset_daemon"), *modules_of("theset_daemon.actors")]


def test_the_checks_see_what_they_look_for():
    source = "import os\ndef f():\n    import json\n    from . import x  # cycle: x imports this module\n"
    assert list(function_level_imports(source)) == ["3: import json (in f)"]
    assert PARENTS.search("ROOT = Path(__file__).resolve().parents[2]")
    assert PARENTS.search("HERE = Path(__file__).parent.parent / 'sql'")
    assert not PARENTS.search("HERE = Path(__file__).parent")


def test_no_import_inside_a_function():
    modules = all_modules()
    assert len(modules) >= 100  # the package and the actors were read
    found = [f"{package}: {hit}" for package, source in modules for hit in function_level_imports(source)]
    assert found == []


def test_no_data_file_is_found_by_counting_parent_folders():
    found = [package for package, source in all_modules() if PARENTS.search(source)]
    assert found == []
