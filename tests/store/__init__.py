"""The store on real PostgreSQL: migrations, upserts, import status rows."""
