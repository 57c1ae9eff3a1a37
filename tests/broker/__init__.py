"""The broker on real Redis: fetch, lanes, leases, retries, delays, priorities, its admin API."""
