"""Alembic environment for the SQL stores, driven programmatically by ``migrate.upgrade``.

The caller passes an open connection in ``config.attributes["connection"]`` (already inside
a transaction, so the whole upgrade commits or rolls back as one). For developer use from the
``alembic`` command line, ``sqlalchemy.url`` in the config is used instead.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from ostiary.storage.sql.engine import create_engine
from ostiary.storage.sql.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    asyncio.run(_run_from_url(url))


_main()
