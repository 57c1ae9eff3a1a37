"""The daemon's aiohttp side server: health, readiness, metrics and the APIs."""
