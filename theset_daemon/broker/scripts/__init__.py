"""The broker's Lua scripts, each prefixed with the shared prelude ``lib.lua``
(the ``admin_*`` ones also with ``admin_lib.lua``).

Every script takes the same seven-argument header (see :func:`header`) followed
by its own arguments; all keys are built inside the scripts from the namespace,
so the broker targets a single Redis (or one hash slot: wrap the namespace in
``{}`` for Redis Cluster).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

#: The scripts by name (``enqueue.lua`` -> ``"enqueue"``).
NAMES = (
    "enqueue", "fetch", "finish", "maintain", "depths", "probe",
    "admin_overview", "admin_search", "admin_job", "admin_queue",  # the operator's surface (broker/admin.py)
)


@cache
def source(name: str) -> str:
    """The full text of script ``name``: prelude plus body."""
    here = files(__name__)
    prelude = here.joinpath("lib.lua").read_text() + "\n"
    if name.startswith("admin_"):
        prelude += here.joinpath("admin_lib.lua").read_text() + "\n"
    return prelude + here.joinpath(f"{name}.lua").read_text()
