"""The files the package ships beside its code, found through ``importlib.resources``.

The repository keeps them in its top-level ``sql/`` and ``schedules/`` folders
(and ``theset_daemon/web/static``); ``pyproject.toml`` maps those folders into the
package (``theset_daemon.sql``, ``theset_daemon.schedules``), so the same names
work from a checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable


def sql_dir() -> Traversable:
    """The numbered migrations (``NNN_name.sql``) and ``queries/``."""
    return files("theset_daemon.sql")


@cache
def query(name: str) -> str:
    """The text of the named query ``sql/queries/<name>.sql``."""
    return sql_dir().joinpath("queries", f"{name}.sql").read_text()


def default_schedules_file() -> Traversable:
    """The shipped schedule file, ``schedules/schedules.toml``."""
    return files("theset_daemon.schedules").joinpath("schedules.toml")


def static_dir() -> Traversable:
    """The dashboard's page, scripts and styles."""
    return files("theset_daemon.web").joinpath("static")
