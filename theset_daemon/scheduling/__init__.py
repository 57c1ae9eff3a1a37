"""Recurring jobs: the schedules file, cron triggers, the cluster-wide claim of each
fire and the schedules' status (:mod:`.scheduler`). The shipped file is
``schedules/schedules.toml``.
"""
