"""Where a store call's SQL runs: one function over a sync ``Connection``, in one transaction.

``InlineSqliteRunner`` (SQLite files) runs each call at once on the event loop's thread, on a
connection that never waits for a lock; only when another process holds the write lock does
the call go to a ``ThreadRunner``, which owns one connection on one dedicated thread, waits on
``busy_timeout`` there, off the event loop, and whose FIFO queue serialises such calls.
``AsyncRunner`` (PostgreSQL) runs the same functions through SQLAlchemy's asyncio bridge over
an asyncpg pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from ostiary.storage.sql.direct import PostgresDirect, Row, SqliteDirect
from ostiary.storage.sql.engine import SQLITE_BEGIN

T = TypeVar("T")


class Runner(Protocol):
    dialect: str

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction, committed if it returns."""

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn``, which only reads, one statement at a time."""

    async def first(self, stmt: Executable, params: Mapping[str, Any]) -> Row | None:
        """Run one statement, autocommitted, straight on the driver; its first row or None."""

    async def first_then(
        self,
        guard: Executable,
        guard_params: Mapping[str, Any],
        then: Executable,
        then_params: Mapping[str, Any],
    ) -> bool:
        """In one transaction: ``guard``, and ``then`` only if ``guard`` returned a row."""

    async def close(self) -> None: ...


class _PairInTransaction:
    """``first_then`` as a plain SQLAlchemy transaction through the runner's ``write``."""

    async def write(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def first_then(
        self,
        guard: Executable,
        guard_params: Mapping[str, Any],
        then: Executable,
        then_params: Mapping[str, Any],
    ) -> bool:
        return await self.write(_guarded_pair(guard, guard_params, then, then_params))


class AsyncRunner(_PairInTransaction):
    """Transactions on an ``AsyncEngine``; reads in autocommit mode (one round trip)."""

    def __init__(
        self, engine: AsyncEngine, autocommit: AsyncEngine, direct: PostgresDirect
    ) -> None:
        self.dialect = engine.dialect.name
        self._engine = engine
        self._autocommit = autocommit
        self._direct = direct

    async def write(self, fn: Callable[[Connection], T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        async with self._autocommit.connect() as conn:
            return await conn.run_sync(fn)

    async def first(self, stmt: Executable, params: Mapping[str, Any]) -> Row | None:
        return await self._direct.first(stmt, params)

    async def close(self) -> None:
        await self._direct.close()
        await self._engine.dispose()
        await self._autocommit.dispose()


class ThreadRunner(_PairInTransaction):
    """Every call on one thread and one connection, so calls never contend in-process.

    A dedicated thread with a ``SimpleQueue`` measured ~40% faster than a one-worker
    ``ThreadPoolExecutor``: each hop is one queue put and one ``call_soon_threadsafe``.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        self._engine = engine
        self._conn: Connection | None = None  # only touched on the worker thread
        self._closed = False
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="ostiary-sqlite", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            fn, begin, loop, future = self._jobs.get()
            try:
                result = self._call(fn, begin)
            except BaseException as exc:  # delivered to the awaiting caller
                _resolve(loop, future, _fail, exc)
            else:
                _resolve(loop, future, _succeed, result)
            if fn is _stop:
                return

    def _call(self, fn: Callable[[Connection], Any], begin: str | None) -> Any:
        if fn is _stop:
            if self._conn is not None:
                self._conn.close()
            self._engine.dispose()
            return None
        if self._conn is None:
            self._conn = self._engine.connect()
        conn = self._conn.execution_options(**{SQLITE_BEGIN: begin})
        with conn.begin():
            return fn(conn)

    def _enqueue(self, fn: Callable[[Connection], T], begin: str | None) -> asyncio.Future[T]:
        if self._closed:
            raise RuntimeError("storage is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, begin, loop, future))
        return future

    async def write(self, fn: Callable[[Connection], T]) -> T:
        return await self._enqueue(fn, "IMMEDIATE")

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await self._enqueue(fn, None)

    async def first(self, stmt: Executable, params: Mapping[str, Any]) -> Row | None:
        def one(conn: Connection) -> Row | None:
            result = conn.execute(stmt, dict(params))
            return result.first() if result.returns_rows else None

        return await self._enqueue(one, None)

    async def close(self) -> None:
        """Finish the calls already queued, then close the connection and end the thread."""
        if not self._closed:
            stopped = self._enqueue(_stop, None)
            self._closed = True
            await stopped


class InlineSqliteRunner:
    """Each call runs inline, in one transaction, on a connection with ``busy_timeout = 0``.

    A store call is a few statements of tens of microseconds, cheaper than a thread hop
    (``bench/``: about +35% token-endpoint throughput). Nothing awaits inside a call, so calls
    of this process never interleave. When SQLite answers busy (another process, or this
    process's ``fallback`` thread, holds the write lock), nothing has been done yet, because
    writes begin with ``BEGIN IMMEDIATE``, and the call is handed to ``fallback``, which waits
    for the lock off the event loop. Calls from any thread but the first caller's go to
    ``fallback`` too (a sqlite3 connection belongs to one thread).
    """

    def __init__(self, engine: Engine, fallback: ThreadRunner) -> None:
        self.dialect = engine.dialect.name
        self._engine = engine
        self._fallback = fallback
        self._conn: Connection | None = None
        self._direct: SqliteDirect | None = None
        self._thread: int | None = None
        self._closed = False

    def _connection(self) -> Connection | None:
        if self._closed:
            raise RuntimeError("storage is closed")
        if self._thread is None:
            self._thread = threading.get_ident()
        if self._thread != threading.get_ident():
            return None
        if self._conn is None:
            conn = self._engine.connect()
            raw = conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            # At the DB-API level: an SQLAlchemy execute would autobegin a transaction.
            raw.execute("PRAGMA busy_timeout = 0")
            self._conn, self._direct = conn, SqliteDirect(raw, self._engine.dialect)
        return self._conn

    def _inline(self, fn: Callable[[Connection], T], begin: str | None) -> tuple[bool, T | None]:
        base = self._connection()
        if base is None:
            return False, None
        try:
            with base.execution_options(**{SQLITE_BEGIN: begin}).begin() as tx:
                return True, fn(tx.connection)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            return False, None

    async def write(self, fn: Callable[[Connection], T]) -> T:
        done, result = self._inline(fn, "IMMEDIATE")
        return result if done else await self._fallback.write(fn)  # type: ignore[return-value]

    async def read(self, fn: Callable[[Connection], T]) -> T:
        done, result = self._inline(fn, None)
        return result if done else await self._fallback.read(fn)  # type: ignore[return-value]

    async def first(self, stmt: Executable, params: Mapping[str, Any]) -> Row | None:
        if self._connection() is not None and self._direct is not None:
            try:
                return self._direct.first(stmt, params)
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
        return await self._fallback.first(stmt, params)

    async def first_then(
        self,
        guard: Executable,
        guard_params: Mapping[str, Any],
        then: Executable,
        then_params: Mapping[str, Any],
    ) -> bool:
        """``guard`` and, if it returned a row, ``then``, in one transaction."""
        if self._connection() is not None and self._direct is not None:
            try:
                return self._direct.first_then(guard, guard_params, then, then_params)
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
        return await self._fallback.first_then(guard, guard_params, then, then_params)

    async def close(self) -> None:
        if self._conn is not None and self._thread == threading.get_ident():
            self._conn.close()
        self._conn, self._closed = None, True
        await self._fallback.close()


def _guarded_pair(
    guard: Executable,
    guard_params: Mapping[str, Any],
    then: Executable,
    then_params: Mapping[str, Any],
) -> Callable[[Connection], bool]:
    def work(conn: Connection) -> bool:
        if conn.execute(guard, dict(guard_params)).first() is None:
            return False
        conn.execute(then, dict(then_params))
        return True

    return work


_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code in _SQLITE_BUSY or "database is locked" in str(exc.orig)


_Job = tuple[
    Callable[[Connection], Any], str | None, asyncio.AbstractEventLoop, "asyncio.Future[Any]"
]


def _stop(conn: Connection) -> None:
    """Sentinel job: close the connection and stop the worker thread."""


def _resolve(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    setter: Callable[[asyncio.Future[Any], Any], None],
    value: Any,
) -> None:
    with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits
        loop.call_soon_threadsafe(setter, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # the caller may have been cancelled
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: Any) -> None:
    if not future.done():
        future.set_exception(exc)
