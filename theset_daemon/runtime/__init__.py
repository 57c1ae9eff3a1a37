"""Process life: the daemon's boot and drain (:mod:`.daemon`), its configuration
(:mod:`.config`), the shared resources actors reach (:mod:`.resources`, the one
place shared state lives), systemd notification, readiness, the event-loop
monitor, logs and their masking, metrics, Redis health, refusals, queue pauses,
the job log and the package's data files.
"""
