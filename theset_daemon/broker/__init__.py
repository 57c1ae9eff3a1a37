"""The broker layer: Dramatiq's actors and messages on Redis, with priorities, delays,
leases, retries, dead letters, job ids and cluster rate limits.

Usage::

    broker = TheSetBroker(redis_url=..., namespace="theset", queues=QUEUES, defaults=JobDefaults(),
                          host_id="host-1234", lease_timeout_s=30.0)
    dramatiq.set_broker(broker)        # then import the actor modules
    worker = Worker(broker, queues=QUEUES)
    await worker.start()               # on the daemon's running loop
    ...
    worker.stop_fetching(); report = await worker.drain(25.0)

Message options (``send_with_options(..., option=value)``; most also as actor options):
``priority`` (CRITICAL..BACKGROUND or 0-4), ``delay`` (ms; for ``enqueue_many``),
``job_id`` (deterministic id: a send while that id is waiting/delayed/running
returns the existing job), ``debounce_ms`` (a repeat of the job id within the
window is ignored even after the first finished), ``max_attempts`` /
``max_retries``, ``min_backoff`` / ``max_backoff`` (ms), ``time_limit`` (ms), and
Dramatiq's own (``max_age``, ``on_success``/``on_failure``, ``store_results``,
``pipe_ignore``, ``on_retry_exhausted``, ``notify_shutdown``). The worker sets
``retries`` and ``requeue_timestamp`` on a retried message, as Dramatiq does.
Actor-only: ``default_priority``, ``throws``, ``retry_when``; ``@actor(priority=N)``
runs N levels below the queue's default.

Redis key layout (``ns`` = namespace; every key the broker writes is under it):

=============================  ======  =====================================================
key                            type    content
=============================  ======  =====================================================
``ns:job:<job_id>``            HASH    the job record (below)
``ns:q:<queue>:waiting``       ZSET    job ids; score = priority * 2^44 + seq (FIFO per level)
``ns:q:<queue>:delayed``       ZSET    job ids by due time (ms, Redis clock); retries wait here
``ns:q:<queue>:active``        ZSET    job ids by lease expiry (ms)
``ns:q:<queue>:completed``     ZSET    job ids by finish time; at most ``completed_max_per_queue``,
                                       none older than ``completed_ttl_s``
``ns:q:<queue>:failed``        ZSET    job ids by last failed attempt, kept ``failed_ttl_s``
``ns:q:<queue>:dead``          ZSET    dead letters by time, kept ``dead_ttl_s``
``ns:q:<queue>:marker``        ZSET    wake-up marker an enqueue sets and an idle daemon pops
``ns:q:<queue>:paused``        STRING  present while the queue is paused (cluster-wide)
``ns:q:<queue>:maintain``      STRING  whose turn it is to reclaim/trim this interval (PX)
``ns:rate:<queue>``            STRING  GCRA state of the queue's cluster rate limit
                                       (``:paused`` beside it; see ``rate_limit.py``)
``ns:seq``                     STRING  enqueue sequence counter
``ns:debounce:<job_id>``       STRING  debounce window of a job id (PX)
``ns:host:<host_id>:wake``     ZSET    a daemon's private wake-up key
``ns:q:<queue>:done:<minute>`` STRING  jobs completed in that minute (epoch ms // 60000), kept 16 min
``ns:daemon:<host_id>``        HASH    heartbeat of a daemon: ``heartbeat`` (ms), ``active``, ``jobs``
                                       (held job ids, one per line), ``stopped_at`` after a clean stop
``ns:daemons``                 ZSET    host ids by last heartbeat (kept a day)
``ns:serving`` / ``:<host>``   ZSET /  the queues each live daemon consumes (see ``serving.py``)
                               HASH
``ns:results:*``               LIST    stored results (Dramatiq's Redis result backend)
``ns:barrier:*``               STRING  group completion barriers
``ns:metrics:leader``          STRING  host id of the daemon exporting the cluster-wide gauges (PX)
=============================  ======  =====================================================

Job record fields (times in ms since the epoch, Redis clock): ``job_id``, ``queue``,
``actor``, ``msg`` (the encoded Dramatiq message: args, kwargs, options),
``priority`` (0-4), ``seq``, ``state`` (``waiting`` | ``delayed`` | ``active`` |
``completed`` | ``failed`` = an attempt failed and a retry is due at ``due_at`` |
``dead``), ``attempts`` (counted attempts: interrupted ones are not), ``runs``
(lease token), ``owner`` (host id while active), ``enqueued_at``, ``started_at``,
``finished_at``, ``due_at``, ``ready_at`` (last became waiting again), ``progress``, ``logs`` (the job's
log lines, see :meth:`Job.log`), ``logs_dropped``, ``error``, ``exc_type``, ``traceback``,
``failures``, ``first_failed_at``, ``last_failed_at``, ``reason`` (dead letters),
``handbacks``, ``reclaims``, ``postpones`` (a :class:`Postpone` re-queues without counting an attempt). Completed records expire after ``completed_ttl_s``,
dead ones after ``dead_ttl_s``; both are also trimmed by the periodic check.
"""

from __future__ import annotations

from .broker import TheSetBroker
from .errors import Permanent, Postpone
from .job import Job, current_job
from .worker import DrainReport, Worker

__all__ = ["TheSetBroker", "Worker", "DrainReport", "Permanent", "Postpone", "Job", "current_job"]
