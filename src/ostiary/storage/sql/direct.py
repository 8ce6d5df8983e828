"""One statement, straight to the driver: the token endpoint's hot path without SQLAlchemy's
execution layer.

Statements stay SQLAlchemy Core (``statements.py``); each is compiled once per dialect and
parameter set into driver SQL and a parameter order, then run on the DB-API connection
(sqlite3) or on a plain asyncpg pool. Every call is one autocommitted statement, atomic on
its own, so no transaction is needed. ``bench/`` measured SQLAlchemy's per-statement work at
several times the driver's; the results are the same rows, read by position by ``codec``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, cast

import asyncpg
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

Row = Sequence[Any]
_CACHE_LIMIT = 512


class Compiler:
    """SQLAlchemy statement + parameter names -> (driver SQL, positional argument builder)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._cache: dict[tuple[Executable, frozenset[str]], SQLCompiler] = {}

    def __call__(self, stmt: Executable, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        key = (stmt, frozenset(params))
        compiled = self._cache.get(key)
        if compiled is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            element = cast(ClauseElement, stmt)
            compiled = cast(
                SQLCompiler, element.compile(dialect=self._dialect, column_keys=list(params))
            )
            self._cache[key] = compiled
        values = compiled.construct_params(dict(params))
        return compiled.string, [values[name] for name in compiled.positiontup or ()]


class SqliteDirect:
    """Statements on one sqlite3 connection in autocommit mode (``isolation_level=None``)."""

    def __init__(self, connection: sqlite3.Connection, dialect: Dialect) -> None:
        self._conn = connection
        self._compile = Compiler(dialect)

    def first(self, stmt: Executable, params: Mapping[str, Any]) -> Row | None:
        sql, args = self._compile(stmt, params)
        try:
            # fetchall: a RETURNING statement completes, and commits, only once read to the end.
            rows = self._conn.execute(sql, args).fetchall()
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(sql, args, exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(sql, args, exc) from exc
        return rows[0] if rows else None

    def first_then(
        self,
        guard: Executable,
        guard_params: Mapping[str, Any],
        then: Executable,
        then_params: Mapping[str, Any],
    ) -> bool:
        """In one ``BEGIN IMMEDIATE`` transaction: run ``guard``; if it returned a row, ``then``.

        A busy database fails at BEGIN, before anything was done.
        """
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError("BEGIN IMMEDIATE", (), exc) from exc
        try:
            done = self.first(guard, guard_params) is not None
            if done:
                self.first(then, then_params)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return done


class PostgresDirect:
    """Statements on a plain asyncpg pool, one round trip each."""

    def __init__(self, url: str, dialect: Dialect, size: int) -> None:
        parsed = make_url(url)
        settings = {}
        if "search_path" in parsed.query:
            settings["search_path"] = str(parsed.query["search_path"])
        self._dsn = parsed.set(drivername="postgresql").difference_update_query(["search_path"])
        self._settings = settings
        self._size = size
        self._pool: asyncio.Future[asyncpg.Pool] | None = None
        self._compile = Compiler(dialect)

    async def _get_pool(self) -> asyncpg.Pool:
        """The pool, created once by whichever call comes first (racing calls share it)."""
        if self._pool is None:
            self._pool = asyncio.ensure_future(
                asyncpg.create_pool(
                    self._dsn.render_as_string(hide_password=False),
                    min_size=1,
                    max_size=self._size,
                    server_settings=self._settings,
                )
            )
        return await self._pool

    async def first(self, stmt: Executable, params: Mapping[str, Any]) -> Row | None:
        sql, args = self._compile(stmt, params)
        pool = await self._get_pool()
        try:
            row: Row | None = await pool.fetchrow(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(sql, args, exc) from exc
        return row

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await (await pool).close()
