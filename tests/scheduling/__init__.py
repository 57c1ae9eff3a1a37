"""Schedules: the file, cron, the cluster claim."""
