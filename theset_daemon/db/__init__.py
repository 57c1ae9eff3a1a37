"""PostgreSQL access: the migration runner and the connection pool."""

from .migrate import MigrationError, migrate
from .pool import create_pool

__all__ = ["MigrationError", "create_pool", "migrate"]
