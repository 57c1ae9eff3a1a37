"""The studio catalogue: live filter layers and version dedupe, as plain functions."""

from .dedupe import dedup_key, dedupe
from .live_markers import is_live_album, is_live_title
from .studio import CatalogResult, studio_tracks

__all__ = ["CatalogResult", "dedup_key", "dedupe", "is_live_album", "is_live_title", "studio_tracks"]
