"""A fresh PostgreSQL database per use, on the server named by ``OSTIARY_TEST_POSTGRES``."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("OSTIARY_TEST_POSTGRES", DEFAULT)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_plain(server_url()), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it afterwards.

    Fails loudly (never skips) when the server is unreachable.
    """
    name = f"ostiary_t_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = server_url().rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
