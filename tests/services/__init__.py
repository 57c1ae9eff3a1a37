"""Services around the import: cache, trending, webhooks, cleanup, the daily quota."""
