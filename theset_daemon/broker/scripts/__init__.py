"""The broker's Lua scripts, each prefixed with the shared prelude ``lib.lua``.

Every script takes the same seven-argument header (see :func:`header`) followed
by its own arguments; all keys are built inside the scripts from the namespace,
so the broker targets a single Redis (or one hash slot: wrap the namespace in
``{}`` for Redis Cluster).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

#: The scripts by name (``enqueue.lua`` -> ``"enqueue"``).
NAMES = ("enqueue", "fetch", "finish", "maintain", "depths")


@cache
def source(name: str) -> str:
    """The full text of script ``name``: prelude plus body."""
    here = files(__name__)
    return here.joinpath("lib.lua").read_text() + "\n" + here.joinpath(f"{name}.lua").read_text()
