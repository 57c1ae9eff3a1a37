"""Redis as deployed: connection, TLS, Sentinel, readiness, refusals and faults under a running daemon."""
