"""Numbered migrations and named queries (shipped as ``theset_daemon.sql``)."""
