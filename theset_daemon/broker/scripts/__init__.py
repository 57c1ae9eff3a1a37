"""The broker's Lua scripts, each prefixed with the shared preludes: ``core.lua``
(namespace, clock, key helpers), then, for all but ``enqueue``, ``lib.lua`` (the
job lifecycle), and for the ``admin_*`` ones also ``admin_lib.lua``.

Every script but ``enqueue`` takes the same seven-argument header (the broker's
``_header``) followed by its own arguments; ``enqueue``, the hot path, takes
only the namespace (see :data:`HEADER_ARGS`). All keys are built inside the scripts from the namespace,
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


#: How many leading arguments of the broker's header a script takes (the rest take all seven).
HEADER_ARGS = {"enqueue": 1}


@cache
def source(name: str) -> str:
    """The full text of script ``name``: preludes plus body."""
    here = files(__name__)
    prelude = here.joinpath("core.lua").read_text() + "\n"
    if name not in HEADER_ARGS:
        prelude += here.joinpath("lib.lua").read_text() + "\n"
    if name.startswith("admin_"):
        prelude += here.joinpath("admin_lib.lua").read_text() + "\n"
    return prelude + here.joinpath(f"{name}.lua").read_text()
