"""PostgreSQL: the connection pool (:mod:`.pool`), the migration runner (:mod:`.migrate`)
and the SQL the daemon runs, one module per table: idempotent, batched upserts.

Every function takes a pool or a connection (``Db``) from :func:`create_pool`
(jsonb values are Python values) and plain model values.
"""

from .artists import (
    SpotifyArtistTaken,
    artist_counts,
    get_artist,
    mark_artist_synced,
    set_artist_image,
    set_setlistfm_mbid,
    slugify,
    trending_artist_ids,
    update_artist_spotify,
    upsert_artist_from_tm,
)
from .connection import Db, transaction
from .imports import create_import, fail_stale_imports, get_import, update_import
from .migrate import MigrationError, migrate
from .pool import create_pool
from .setlists import upsert_setlists
from .shows import show_status, shows_for_linking, upsert_shows
from .songs import song_ids_by_title, upsert_songs
from .venues import update_venue_details, upsert_venues, venues_without_details

__all__ = [
    "Db", "MigrationError", "SpotifyArtistTaken", "artist_counts", "create_import", "create_pool", "fail_stale_imports", "get_artist", "get_import",
    "mark_artist_synced", "migrate", "set_artist_image", "set_setlistfm_mbid", "show_status", "shows_for_linking", "slugify",
    "song_ids_by_title", "transaction", "trending_artist_ids", "update_artist_spotify", "update_import",
    "update_venue_details", "upsert_artist_from_tm", "upsert_setlists", "upsert_shows",
    "upsert_songs", "upsert_venues", "venues_without_details",
]
