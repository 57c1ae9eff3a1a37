"""The layers point one way: a module in ``theset_daemon/broker/`` imports nothing of TheSet outside it.

The broker is given what it needs (its queue table, the kwargs its log lines carry);
the application imports the broker, never the reverse. Read from the source with
``ast``, so a function-level import counts too.
"""

from __future__ import annotations

import ast
from importlib import resources
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
    folders = [(BROKER, resources.files(BROKER))]
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
