"""Backends for the storage contract suite: memory, SQLite (a file) and PostgreSQL.

PostgreSQL is required, never skipped: ``OSTIARY_TEST_POSTGRES`` (default below) must be
reachable, or every postgres case fails. Each test gets its own schema (via ``search_path``),
dropped afterwards, so tests are independent and repeatable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ostiary.storage.memory import MemoryStorage
from ostiary.storage.protocols import Storage
from ostiary.storage.sql import create_engine, open_storage

POSTGRES_URL = os.environ.get(
    "OSTIARY_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class Backend:
    """One database; ``open()`` gives an independent store on it (like another process)."""

    def __init__(self, name: str, url: str | None) -> None:
        self.name = name
        self.url = url
        self._memory = MemoryStorage()
        self._opened: list[Storage] = []

    @property
    def is_sql(self) -> bool:
        return self.url is not None

    async def open(self) -> Storage:
        if self.url is None:
            return self._memory  # one process: the dictionaries are the database
        store = await open_storage(self.url)
        self._opened.append(store)
        return store

    async def close(self) -> None:
        for store in self._opened:
            await store.close()


async def _execute(sql: str) -> None:
    engine = create_engine(POSTGRES_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@asynccontextmanager
async def empty_database(name: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database: a file for ``sqlite``, a fresh schema for ``postgres``."""
    if name == "sqlite":
        yield f"sqlite:///{tmp_path / 'ostiary.db'}"
        return
    schema = f"contract_{uuid.uuid4().hex[:16]}"
    await _execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(POSTGRES_URL).update_query_dict({"search_path": schema})
        yield url.render_as_string(hide_password=False)
    finally:
        await _execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["memory", *SQL_BACKENDS])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Backend("memory", None)
        return
    async with empty_database(request.param, tmp_path) as url:
        backend = Backend(request.param, url)
        try:
            yield backend
        finally:
            await backend.close()


@pytest.fixture
async def store(backend: Backend) -> Storage:
    return await backend.open()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """URL of an empty SQLite or PostgreSQL database, for the SQL-only tests."""
    async with empty_database(request.param, tmp_path) as url:
        yield url
