"""Every Prometheus metric of the daemon, on prometheus-client's default registry.

Defined in one module so that /metrics documents itself: a reader finds every
series here, and each module that reports imports the object it updates.

Two kinds of series:

* per daemon (jobs run here, provider calls made here, SSE clients here, loop
  lag, readiness, the queues this daemon serves): sum them over instances;
* cluster-wide (:data:`CLUSTER_GAUGES`: queue depths, oldest waiting/running
  job, Redis memory): read from Redis at scrape time and exported by ONE daemon
  only, the one holding the metrics lead in Redis (``theset_cluster_metrics_leader``
  is 1 there), so ``sum()`` over instances counts each once. The lead passes to
  another scraped daemon when the leader is not scraped for ``METRICS_LEAD_S``.

``*_created`` series are off (:func:`prometheus_client.disable_created_metrics`):
they doubled the scrape and no panel or rule reads them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()

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

# -- cluster-wide, exported by the metrics leader only ------------------------------------------
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

# -- the daemon process -------------------------------------------------------------------------
DAEMON_READY = Gauge("theset_daemon_ready", "1 when /readyz would answer 200 (read at scrape time), else 0.")
LOOP_LAG = Gauge("theset_event_loop_lag_seconds", "The event loop's latest measured lag.")
LOOP_LAG_MAX = Gauge("theset_event_loop_lag_max_seconds", "The event loop's worst recent lag (decays 10% a tick).")
RATE_LIMIT_WAIT = Histogram(
    "theset_rate_limit_wait_seconds", "Time spent waiting for a cluster-wide rate-limit slot.", ["limiter"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
PROVIDER_REQUESTS = Counter(
    "theset_provider_requests", "Provider HTTP requests, by provider, endpoint and status.",
    ["provider", "endpoint", "status"],
)
PROVIDER_LATENCY = Histogram(
    "theset_provider_request_seconds", "Provider HTTP request latency.", ["provider", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
SSE_CLIENTS = Gauge("theset_sse_clients", "Server-sent-event clients connected to this daemon.")
IMPORT_PHASE_DURATION = Histogram(
    "theset_import_phase_seconds", "Wall time of one import phase.", ["phase"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
IMPORTS = Counter(
    "theset_imports", "Imports by event: started (a new kickoff, not a joined one), completed, failed.", ["event"]
)
IMPORT_VISIBLE = Histogram(
    "theset_import_visible_seconds", "From kickoff to the artist page being visible (phase 1 done).",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
)
SCHEDULE_RUNS = Counter("theset_schedule_runs", "Schedule fires, by schedule and outcome.", ["schedule", "outcome"])
REDIS_MAXMEMORY_POLICY = Gauge(
    "theset_redis_maxmemory_policy",
    "1 for Redis's maxmemory-policy as last read (policy 'unknown' where CONFIG GET is refused).", ["policy"],
)
JOBS_LOST = Counter(
    "theset_jobs_lost", "Waiting job ids whose record was gone when fetched (evicted or deleted), by queue.", ["queue"],
)
# Daily provider quotas (theset_daemon/quota.py): cluster-wide, read from Redis at scrape time by the
# metrics leader only (web/quotas.py), like CLUSTER_GAUGES.
PROVIDER_QUOTA_LIMIT = Gauge(
    "theset_provider_quota_limit", "Calls per daily window of the provider (0: no published quota); leader only.",
    ["provider"],
)
PROVIDER_QUOTA_USED = Gauge(
    "theset_provider_quota_used", "Calls spent in the provider's open daily window; cluster-wide, leader only.",
    ["provider"],
)
PROVIDER_QUOTA_REMAINING = Gauge(
    "theset_provider_quota_remaining", "Calls left in the provider's open daily window (absent: no limit); "
    "leader only.",
    ["provider"],
)
PROVIDER_QUOTA_RESET = Gauge(
    "theset_provider_quota_reset_timestamp_seconds", "When the provider's daily window closes (absent: none open); "
    "leader only.", ["provider"],
)
PROVIDER_QUOTA_SPENT = Gauge(
    "theset_provider_quota_spent", "Calls spent in the open window by kind of work (person, recurring, other); "
    "leader only.", ["provider", "kind"],
)
PROVIDER_QUOTA_HELD = Gauge(
    "theset_provider_quota_held", "Calls the budget refused in the open window (each postponed a job), by kind of "
    "work; leader only.", ["provider", "kind"],
)
PROVIDER_QUOTA_QUEUED = Gauge(
    "theset_provider_quota_queued_calls", "Expected calls of the queued work in the open window, by kind of work; "
    "leader only.", ["provider", "kind"],
)
#: The quota gauges (cleared on a daemon that does not hold the metrics lead).
QUOTA_GAUGES = (PROVIDER_QUOTA_LIMIT, PROVIDER_QUOTA_USED, PROVIDER_QUOTA_REMAINING, PROVIDER_QUOTA_RESET,
                PROVIDER_QUOTA_SPENT, PROVIDER_QUOTA_HELD, PROVIDER_QUOTA_QUEUED)
