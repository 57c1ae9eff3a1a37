"""The broker's Prometheus series: jobs, queues, leases, rate limits, and the cluster-wide
gauges only the metrics leader exports (:mod:`.cluster_metrics`). Re-exported by
:mod:`theset_daemon.runtime.metrics`, the index of every series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # before the first series: the *_created series doubled the scrape

JOBS = Counter(
    "theset_jobs", "Jobs finished, by queue, actor and outcome (completed, retried, dead, handed_back).",
    ["queue", "actor", "outcome"],
)
JOB_DURATION = Histogram(
    "theset_job_duration_seconds", "Wall time of one job attempt.", ["queue", "actor"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_QUEUE_WAIT = Histogram(
    "theset_job_queue_wait_seconds",
    "Time in queue of one attempt: from ready (enqueued, or due after a delay or retry) to fetched, Redis clock.",
    ["queue"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
JOBS_IN_PROGRESS = Gauge("theset_jobs_in_progress", "Jobs running in this daemon.", ["queue"])
QUEUE_SERVED = Gauge(
    "theset_queue_served", "1 for each queue this daemon consumes (0 once it drains).", ["queue"]
)
LEASE_RECLAIMS = Counter(
    "theset_lease_reclaims", "Jobs taken back from a daemon that stopped renewing its leases, by queue.", ["queue"]
)
QUEUE_DEPTH = Gauge(
    "theset_queue_depth", "Jobs per queue and state (waiting, delayed, active, dead); cluster-wide, leader only.",
    ["queue", "state"],
)
QUEUE_WAITING = Gauge(
    "theset_queue_waiting", "Waiting jobs per queue and priority; cluster-wide, leader only.", ["queue", "priority"]
)
QUEUE_PAUSED = Gauge("theset_queue_paused", "1 while the queue is paused; cluster-wide, leader only.", ["queue"])
QUEUE_OLDEST_WAITING = Gauge(
    "theset_queue_oldest_waiting_seconds",
    "Age of the longest-waiting job of the queue since it became ready (0 when none); cluster-wide, leader only.",
    ["queue"],
)
QUEUE_OLDEST_ACTIVE = Gauge(
    "theset_queue_oldest_active_seconds",
    "How long the longest-running job of the queue has run (0 when none); cluster-wide, leader only.",
    ["queue"],
)
REDIS_MEMORY = Gauge(
    "theset_redis_memory_bytes", "Redis memory: kind=used (used_memory), kind=max (maxmemory, 0 = no limit); "
    "cluster-wide, leader only.", ["kind"],
)
CLUSTER_LEADER = Gauge(
    "theset_cluster_metrics_leader", "1 on the daemon that exports the cluster-wide gauges, else 0."
)
#: The gauges only the metrics leader exports (cleared on the others).
CLUSTER_GAUGES = (QUEUE_DEPTH, QUEUE_WAITING, QUEUE_PAUSED, QUEUE_OLDEST_WAITING, QUEUE_OLDEST_ACTIVE,
                  REDIS_MEMORY)
RATE_LIMIT_WAIT = Histogram(
    "theset_rate_limit_wait_seconds", "Time spent waiting for a cluster-wide rate-limit slot.", ["limiter"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
JOBS_LOST = Counter(
    "theset_jobs_lost", "Waiting job ids whose record was gone when fetched (evicted or deleted), by queue.", ["queue"],
)
