"""SQL backend specifics: URL handling, SQLite pragmas, and the packaged Alembic migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from ostiary.core.models import Client, ClientId, Grant, GrantId, RefreshToken, User, UserId
from ostiary.storage.sql import create_engine, migrate, open_storage
from ostiary.storage.sql.engine import BUSY_TIMEOUT_MS, create_sqlite_engine
from ostiary.storage.sql.migrate import MIGRATIONS, alembic_config
from ostiary.storage.sql.tables import metadata


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///relative.db", "sqlite+aiosqlite"),
        ("sqlite:////tmp/absolute.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@localhost/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@localhost:5433/db", "postgresql+asyncpg"),
    ],
)
async def test_create_engine_picks_async_driver(url: str, driver: str) -> None:
    engine = create_engine(url)
    try:
        assert engine.url.drivername == driver
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "sqlite+pysqlite:///x.db", "not a url", ""],
)
def test_create_engine_rejects_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="database URL") as info:
        create_engine(url)
    assert "\n" not in str(info.value)


def test_search_path_becomes_a_server_setting() -> None:
    engine = create_engine("postgresql://u@h/db?search_path=tenant_a")
    assert "search_path" not in engine.url.query
    assert engine.sync_engine.dialect.name == "postgresql"


def _pragmas(conn: Connection) -> dict[str, Any]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    return {n: conn.exec_driver_sql(f"PRAGMA {n}").scalar() for n in names}


EXPECTED_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 1,  # NORMAL
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
}


async def test_sqlite_async_engine_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_pragmas) == EXPECTED_PRAGMAS
    finally:
        await engine.dispose()


def test_sqlite_store_engine_pragmas(tmp_path: Path) -> None:
    engine = create_sqlite_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with engine.connect() as conn:
            assert _pragmas(conn) == EXPECTED_PRAGMAS
    finally:
        engine.dispose()


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_ship_in_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert _head() == "0002"


async def _versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


async def test_migrating_again_is_a_no_op(sql_url: str) -> None:
    app = Client(ClientId("kept"), "Kept", ("https://a.example/cb",), created_at=1)
    first = await open_storage(sql_url)
    await first.save_client(app)
    await first.close()

    await migrate(sql_url)
    second = await open_storage(sql_url)
    try:
        assert await second.get_client(ClientId("kept")) == app
    finally:
        await second.close()
    assert await _versions(sql_url) == [_head()]


async def test_simultaneous_first_starts(sql_url: str) -> None:
    """Several processes starting against an empty database at once all come up."""
    stores = await asyncio.gather(*(open_storage(sql_url) for _ in range(4)))
    try:
        for n, store in enumerate(stores):
            await store.save_client(Client(ClientId(f"c{n}"), "C", ("https://a/cb",)))
        assert len(await stores[0].list_clients()) == 4
    finally:
        for store in stores:
            await store.close()
    assert await _versions(sql_url) == [_head()]


async def test_migrated_schema_matches_tables(sql_url: str) -> None:
    await migrate(sql_url)
    engine = create_engine(sql_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = await open_storage(f"sqlite:///{tmp_path / 'a.db'}")
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.count_users()


async def test_unreachable_database_fails_loudly() -> None:
    with pytest.raises(OSError):
        await open_storage("postgresql://postgres@127.0.0.1:1/none")


async def test_in_memory_sqlite() -> None:
    store = await open_storage("sqlite://")
    try:
        await store.save_client(Client(ClientId("c"), "C", ("https://a/cb",)))
        assert [c.client_id for c in await store.list_clients()] == ["c"]
    finally:
        await store.close()


async def test_sqlite_write_waits_off_the_loop_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    """The inline path never waits: a busy database hands the call to the worker thread."""
    path = tmp_path / "busy.db"
    store = await open_storage(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)  # like a second process
    try:
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.create_task(store.add_user(User(UserId("u1"), "alice", "h", 1)))
        await asyncio.sleep(0.3)
        assert not pending.done()  # waiting for the lock, and the loop is still free:
        assert await store.count_users() == 0  # a read goes through meanwhile (WAL)
        other.execute("COMMIT")
        await asyncio.wait_for(pending, timeout=10)
        assert [u.username for u in await store.list_users()] == ["alice"]
    finally:
        other.close()
        await store.close()


async def test_sqlite_store_works_from_another_thread(tmp_path: Path) -> None:
    store = await open_storage(f"sqlite:///{tmp_path / 'threads.db'}")
    try:
        await store.add_user(User(UserId("u1"), "alice", "h", 1))

        def elsewhere() -> int:
            return asyncio.run(store.count_users())

        assert await asyncio.to_thread(elsewhere) == 1
    finally:
        await store.close()


def _grant_and_token(n: int) -> tuple[Grant, RefreshToken]:
    grant = Grant(GrantId("g"), UserId("u"), ClientId("c"), frozenset({"s"}), "https://r/mcp", 1)
    token = RefreshToken(f"t{n}", GrantId("g"), ClientId("c"), UserId("u"), frozenset({"s"}),
                         "https://r/mcp", 10**10, 1)  # fmt: skip
    return grant, token


@pytest.mark.parametrize("url", ["sqlite://", "file"], ids=["in-memory (thread)", "file (inline)"])
async def test_sqlite_rotation_on_every_runner(url: str, tmp_path: Path) -> None:
    store = await open_storage(f"sqlite:///{tmp_path / 'r.db'}" if url == "file" else url)
    try:
        grant, first = _grant_and_token(1)
        await store.save_grant(grant)
        await store.save_refresh_token(first)
        second = _grant_and_token(2)[1]
        assert await store.rotate_refresh_token("t1", second, b"sealed", 5) is True
        assert await store.rotate_refresh_token("t1", _grant_and_token(3)[1], b"x", 6) is False
        rotated = await store.get_refresh_token("t1")
        assert rotated is not None
        assert (rotated.rotated_at, rotated.successor) == (5, b"sealed")
        assert await store.get_refresh_token("t2") == second
        assert await store.get_refresh_token("t3") is None
    finally:
        await store.close()


async def test_sqlite_rotation_waits_for_another_process(tmp_path: Path) -> None:
    path = tmp_path / "busy-rotate.db"
    store = await open_storage(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        grant, first = _grant_and_token(1)
        await store.save_grant(grant)
        await store.save_refresh_token(first)
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.create_task(
            store.rotate_refresh_token("t1", _grant_and_token(2)[1], b"s", 5)
        )
        await asyncio.sleep(0.3)
        assert not pending.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(pending, timeout=10) is True
        assert await store.get_refresh_token("t2") is not None
    finally:
        other.close()
        await store.close()
