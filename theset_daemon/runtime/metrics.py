"""Every Prometheus metric of the daemon, on prometheus-client's default registry.

Listed in one module so that /metrics documents itself: a reader finds every
series here (the broker's own are defined in ``broker/metrics.py``, the broker
knowing no TheSet module, and imported here), and each module that reports
imports the object it updates.

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

# The broker's own series (jobs, queues, leases, rate limits, the cluster-wide gauges) are defined
# with the broker, which knows no TheSet module; they are listed here so that this module stays
# the index of every series.
from ..broker.metrics import (
    CLUSTER_GAUGES, CLUSTER_LEADER, JOB_DURATION, JOB_QUEUE_WAIT, JOBS, JOBS_IN_PROGRESS, JOBS_LOST,
    LEASE_RECLAIMS, QUEUE_DEPTH, QUEUE_OLDEST_ACTIVE, QUEUE_OLDEST_WAITING, QUEUE_PAUSED, QUEUE_SERVED,
    QUEUE_WAITING, RATE_LIMIT_WAIT, REDIS_MEMORY,
)

disable_created_metrics()

# -- the daemon process -------------------------------------------------------------------------
DAEMON_READY = Gauge("theset_daemon_ready", "1 when /readyz would answer 200 (read at scrape time), else 0.")
LOOP_LAG = Gauge("theset_event_loop_lag_seconds", "The event loop's latest measured lag.")
LOOP_LAG_MAX = Gauge("theset_event_loop_lag_max_seconds", "The event loop's worst recent lag (decays 10% a tick).")
PROVIDER_REQUESTS = Counter(
    "theset_provider_requests", "Provider HTTP requests, by provider, endpoint and status.",
    ["provider", "endpoint", "status"],
)
PROVIDER_LATENCY = Histogram(
    "theset_provider_request_seconds", "Provider HTTP request latency.", ["provider", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
SSE_CLIENTS = Gauge("theset_sse_clients", "Server-sent-event clients connected to this daemon.")
SSE_DELIVERY = Histogram(
    "theset_sse_delivery_seconds",
    "From a progress entry's stream id time (Redis's clock at the XADD) to its frame written to the sockets "
    "of every caught-up client of its import on this daemon.",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
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
# Daily provider quotas (theset_daemon/providers/quota/rules.py): cluster-wide, read from Redis at scrape time by the
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

#: Every series: the broker's (re-exported) and the daemon's.
__all__ = [
    "CLUSTER_GAUGES", "CLUSTER_LEADER", "JOB_DURATION", "JOB_QUEUE_WAIT", "JOBS", "JOBS_IN_PROGRESS",
    "JOBS_LOST", "LEASE_RECLAIMS", "QUEUE_DEPTH", "QUEUE_OLDEST_ACTIVE", "QUEUE_OLDEST_WAITING", "QUEUE_PAUSED",
    "QUEUE_SERVED", "QUEUE_WAITING", "RATE_LIMIT_WAIT", "REDIS_MEMORY", "DAEMON_READY", "LOOP_LAG",
    "LOOP_LAG_MAX", "PROVIDER_REQUESTS", "PROVIDER_LATENCY", "SSE_CLIENTS", "SSE_DELIVERY",
    "IMPORT_PHASE_DURATION", "IMPORTS", "IMPORT_VISIBLE", "SCHEDULE_RUNS", "REDIS_MAXMEMORY_POLICY",
    "PROVIDER_QUOTA_LIMIT", "PROVIDER_QUOTA_USED", "PROVIDER_QUOTA_REMAINING", "PROVIDER_QUOTA_RESET",
    "PROVIDER_QUOTA_SPENT", "PROVIDER_QUOTA_HELD", "PROVIDER_QUOTA_QUEUED", "QUOTA_GAUGES",
]
