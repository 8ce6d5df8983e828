"""Engine factories for the SQL stores: SQLite and PostgreSQL (asyncpg).

``create_engine`` gives an ``AsyncEngine`` for either database (aiosqlite, asyncpg); the
SQLite store itself uses ``create_sqlite_engine`` on its own thread (see ``runner``).
SQLite connections run in WAL mode with ``synchronous=NORMAL``, a busy timeout and foreign
keys on. The driver's implicit transactions are disabled and write transactions start with
``BEGIN IMMEDIATE`` (SQLite "Transactions" §2.2): a writer takes the write lock up front, so
it never fails on a read-to-write upgrade, and writers of other processes wait on
``busy_timeout`` instead of failing with "database is locked".
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

BUSY_TIMEOUT_MS = 30_000
POSTGRES_POOL_SIZE = 10

#: Execution option: how a SQLite transaction begins: ``"IMMEDIATE"`` (the default),
#: ``"DEFERRED"``, or ``None`` for no BEGIN at all (autocommit, for one-statement reads).
SQLITE_BEGIN = "ostiary_sqlite_begin"

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_url(url: str) -> URL:
    """Parse ``url`` and select the async driver; ``ValueError`` for anything unsupported."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"invalid database URL: {url!r}") from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite:///path or postgresql://user@host/db"
        )
    return parsed.set(drivername=driver)


def create_engine(url: str, *, autocommit: bool = False) -> AsyncEngine:
    """An ``AsyncEngine`` for a ``sqlite://`` or ``postgresql://`` URL (async driver implied).

    For PostgreSQL a ``search_path`` query parameter is sent as a server setting (as asyncpg
    does for DSNs), so one database can hold several independent installations.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed)
        configure_sqlite(engine.sync_engine)
        return engine
    connect_args: dict[str, Any] = {}
    search_path = parsed.query.get("search_path")
    if search_path is not None:
        connect_args["server_settings"] = {"search_path": str(search_path)}
        parsed = parsed.difference_update_query(["search_path"])
    # An autocommit engine has its own pool: switching isolation per checkout costs a round
    # trip each time (``bench/``: about 85 µs per read).
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    # The hot path runs on its own asyncpg pool (``direct``); these serve the rest.
    size = POSTGRES_POOL_SIZE // 2
    return create_async_engine(
        parsed,
        pool_size=size,
        max_overflow=size,
        pool_recycle=3600,
        connect_args=connect_args,
        **options,
    )


def is_sqlite_url(url: str) -> bool:
    return normalize_url(url).get_backend_name() == "sqlite"


def is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def create_sqlite_engine(url: str) -> Engine:
    """A synchronous (pysqlite) engine for ``url``, for use from one dedicated thread.

    ``SqlStorage`` runs SQLite on its own thread: one thread hop per store call instead of
    several per statement through aiosqlite, measured several times faster.
    """
    parsed = normalize_url(url).set(drivername="sqlite+pysqlite")
    pool = StaticPool if is_memory_sqlite(parsed) else NullPool
    engine = sqlalchemy.create_engine(parsed, poolclass=pool)
    configure_sqlite(engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    """Install the pragmas and the explicit-BEGIN handling on a SQLite engine."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN: we emit our own
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        if mode is not None:
            conn.exec_driver_sql(f"BEGIN {mode}")
