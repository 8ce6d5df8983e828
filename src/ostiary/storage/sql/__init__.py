"""SQL storage backend: SQLite (one dedicated thread) and PostgreSQL (asyncpg pool).

``await open_storage(url)`` migrates the database to the latest schema and returns the store.
"""

from ostiary.storage.sql.engine import create_engine
from ostiary.storage.sql.stores import SqlStorage, migrate, open_storage

__all__ = ["SqlStorage", "create_engine", "migrate", "open_storage"]
