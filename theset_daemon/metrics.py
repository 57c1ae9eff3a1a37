"""Every Prometheus metric of the daemon, on prometheus-client's default registry.

Defined in one module so that /metrics documents itself: a reader finds every
series here, and each module that reports imports the object it updates.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter(
    "theset_jobs", "Jobs finished, by queue, actor and outcome (completed, retried, dead, handed_back).",
    ["queue", "actor", "outcome"],
)
JOB_DURATION = Histogram(
    "theset_job_duration_seconds", "Wall time of one job attempt.", ["queue", "actor"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOBS_IN_PROGRESS = Gauge("theset_jobs_in_progress", "Jobs running in this daemon.", ["queue"])
QUEUE_DEPTH = Gauge(
    "theset_queue_depth", "Messages per queue and state (waiting, delayed, active, dead), read at scrape time.",
    ["queue", "state"],
)
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
PROVIDER_THROTTLED = Counter("theset_provider_429", "429 answers seen, by provider.", ["provider"])
SSE_CLIENTS = Gauge("theset_sse_clients", "Server-sent-event clients connected to this daemon.")
IMPORT_PHASE_DURATION = Histogram(
    "theset_import_phase_seconds", "Wall time of one import phase.", ["phase"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
SCHEDULE_RUNS = Counter("theset_schedule_runs", "Schedule fires, by schedule and outcome.", ["schedule", "outcome"])
# Daily provider quotas (theset_daemon/quota.py), read from Redis at scrape time.
PROVIDER_QUOTA_LIMIT = Gauge("theset_provider_quota_limit", "Calls per daily window of the provider (0: no published quota).", ["provider"])
PROVIDER_QUOTA_USED = Gauge("theset_provider_quota_used", "Calls spent in the provider's open daily window, cluster-wide.", ["provider"])
PROVIDER_QUOTA_REMAINING = Gauge(
    "theset_provider_quota_remaining", "Calls left in the provider's open daily window (-1: no limit).", ["provider"]
)
PROVIDER_QUOTA_RESET = Gauge(
    "theset_provider_quota_reset_timestamp_seconds", "When the provider's daily window closes (0: none open).", ["provider"]
)
PROVIDER_QUOTA_SPENT = Gauge(
    "theset_provider_quota_spent", "Calls spent in the open window by kind of work (person, recurring, other).",
    ["provider", "kind"],
)
PROVIDER_QUOTA_HELD = Gauge(
    "theset_provider_quota_held", "Calls the budget refused in the open window (each postponed a job), by kind of work.",
    ["provider", "kind"],
)
PROVIDER_QUOTA_QUEUED = Gauge(
    "theset_provider_quota_queued_calls", "Expected calls of the queued work in the open window, by kind of work.",
    ["provider", "kind"],
)
