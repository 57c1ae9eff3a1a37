"""Process life: the daemon under systemd, configuration, queue routing, logs and masking, pauses, monitoring."""
