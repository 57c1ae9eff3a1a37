"""The Dramatiq actors, one module per concern.

Importing this package declares every actor on the broker set with
``dramatiq.set_broker``; the daemon imports it after building its broker.
"""

from . import (
    artist_import,
    cache_warm,
    catalog,
    cleanup,
    images,
    reconcile,
    scheduled_sync,
    setlists,
    spotify,
    ticketmaster,
    trending,
    venues,
    webhook,
)

__all__ = [
    "artist_import", "catalog", "images", "setlists", "spotify", "ticketmaster", "venues",
    "cache_warm", "cleanup", "reconcile", "scheduled_sync", "trending", "webhook",
]
