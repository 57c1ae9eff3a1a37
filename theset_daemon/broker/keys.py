"""Redis key names of the broker, in one place (the Lua scripts build the same names).

See the package docstring for what each key holds.
"""

from __future__ import annotations

#: Waiting-set score = priority * PRIORITY_SPAN + sequence (FIFO within a level).
PRIORITY_SPAN = 2**44

#: The per-queue keys, by kind.
QUEUE_KINDS = ("waiting", "delayed", "active", "completed", "failed", "dead", "marker", "paused", "maintain")


class Keys:
    """Key names under one namespace.

    Parameters:
      namespace: the prefix of every key (``theset``).
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.seq = f"{namespace}:seq"
        self.daemons = f"{namespace}:daemons"
        self.metrics_leader = f"{namespace}:metrics:leader"

    def job(self, job_id: str) -> str:
        """The job record HASH."""
        return f"{self.namespace}:job:{job_id}"

    def queue(self, queue: str, kind: str) -> str:
        """A per-queue key; ``kind`` is one of :data:`QUEUE_KINDS`."""
        return f"{self.namespace}:q:{queue}:{kind}"

    def debounce(self, job_id: str) -> str:
        """The debounce window of a job id (a STRING with a PX expiry)."""
        return f"{self.namespace}:debounce:{job_id}"

    def host_wake(self, host_id: str) -> str:
        """A daemon's private wake-up ZSET (it blocks on it with the queue markers)."""
        return f"{self.namespace}:host:{host_id}:wake"

    def rate(self, queue: str) -> str:
        """The cluster rate limiter of a queue (GCRA state; ``:paused`` beside it)."""
        return f"{self.namespace}:rate:{queue}"

    def daemon(self, host_id: str) -> str:
        """A daemon's heartbeat record (HASH: heartbeat ms, active count, job ids one per line)."""
        return f"{self.namespace}:daemon:{host_id}"

    def done(self, queue: str, minute: int) -> str:
        """Jobs of ``queue`` completed in ``minute`` (epoch ms // 60000); kept 16 minutes."""
        return f"{self.namespace}:q:{queue}:done:{minute}"
