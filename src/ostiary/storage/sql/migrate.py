"""Programmatic Alembic upgrades: no ``alembic.ini`` needed, the scripts ship in the package.

The upgrade runs in the caller's transaction. On PostgreSQL it first takes a transaction-scoped
advisory lock, so processes starting together upgrade one after the other (the later ones find
the schema at head and do nothing); on SQLite ``BEGIN IMMEDIATE`` serializes them the same way.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 0x6F73_7469_6172_7900  # "ostiary\0"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the packaged scripts, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_connection(connection: Connection) -> None:
    """Upgrade the schema to head on a connection already inside a transaction."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})")
    command.upgrade(alembic_config(connection), "head")
