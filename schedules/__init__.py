"""The recurring jobs, declared as data (shipped as ``theset_daemon.schedules``)."""
