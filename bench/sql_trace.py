"""What one token request costs the database: store calls, SQL statements, transactions.

``python -m bench.sql_trace [--backend sqlite|postgres]`` builds the app in-process exactly as
``ostiary serve`` does (``build_context`` + ``create_app`` over ``open_storage``), prepares one
refresh-token chain and one authorization code with ``bench.prepare``, and sends one
``refresh_token`` grant and one code exchange through ``httpx.ASGITransport``. For each it
lists the ``Storage`` calls the core made (each is one runner job: one thread hop on SQLite,
one pool checkout on PostgreSQL) and every statement SQLAlchemy sent, with commits, rollbacks
and pool checkouts, from SQLAlchemy's public engine and pool events.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from bench import prepare
from bench.servers import free_port
from ostiary.crypto.server_secret import ServerKeys, load_or_create_secret
from ostiary.server.app import create_app
from ostiary.server.context import build_context
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage
from ostiary.storage.sql import open_storage

STATEMENT_CHARS = 110


class Trace:
    """Collects engine and pool events and store calls while ``on`` is set."""

    def __init__(self) -> None:
        self.on = False
        self.events: list[str] = []

    def add(self, text: str) -> None:
        if self.on:
            self.events.append(text)

    def statement(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        self.add("  sql   " + " ".join(statement.split())[:STATEMENT_CHARS])

    def listen(self) -> None:
        event.listen(Engine, "before_cursor_execute", self.statement)
        event.listen(
            Engine,
            "commit",
            lambda conn: self.add("  sql   COMMIT (DBAPI commit(); SQLite: no-op outside BEGIN)"),
        )
        event.listen(
            Engine,
            "rollback",
            lambda conn: self.add(
                "  sql   ROLLBACK (DBAPI rollback(); asyncpg: no-op outside a transaction)"
            ),
        )
        event.listen(Pool, "checkout", lambda *a: self.add("  pool  checkout"))
        event.listen(Pool, "reset", lambda *a: self.add("  pool  reset on return"))


class CountingStorage:
    """Passes every call through to the real store, noting the name of each awaited one."""

    def __init__(self, inner: Storage, trace: Trace) -> None:
        self._inner, self._trace = inner, trace

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._trace.add(f"store {name}()")
            return await attr(*args, **kwargs)

        return call


@contextmanager
def database(backend: str, url: str, data_dir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'ostiary.sqlite3'}"
    else:
        with prepare.fresh_postgres(url) as fresh:
            yield fresh


def summarize(title: str, status: int, events: list[str]) -> str:
    def count(pred: Callable[[str], bool]) -> int:
        return sum(1 for e in events if pred(e))

    stores = count(lambda e: e.startswith("store"))
    sql = count(lambda e: e.startswith("  sql") and "DBAPI" not in e)
    commits = count(lambda e: "COMMIT" in e)
    checkouts = count(lambda e: "checkout" in e)
    head = (
        f"{title}: HTTP {status}; {stores} store calls, {sql} SQL statements "
        f"(SQLite: incl. BEGIN; asyncpg sends BEGIN unseen), {commits} commits, "
        f"{checkouts} pool checkouts"
    )
    return "\n".join([head, *events])


async def trace(backend: str, url: str, data_dir: Path, recorder: Trace) -> None:
    inst = prepare.Installation(data_dir, url, free_port())
    client_id = await asyncio.to_thread(prepare.register, inst)
    data = await prepare.mint(inst, client_id, chains=1, codes=1)
    settings = AuthServerSettings(data_dir=data_dir, database=url, port=inst.port)
    keys = ServerKeys.from_secret(load_or_create_secret(settings.secret_path))
    storage = await open_storage(url)
    counting: Any = CountingStorage(storage, recorder)
    try:
        ctx = await build_context(settings.server_config(), counting, keys)
        app = create_app(ctx)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=inst.issuer) as http:
            code, verifier = data.codes[0]
            requests = {
                "refresh_token grant": {
                    "grant_type": "refresh_token",
                    "refresh_token": data.chains[0],
                    "client_id": client_id,
                    "resource": inst.resource,
                },
                "authorization_code exchange": {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": prepare.REDIRECT_URI,
                    "code_verifier": verifier,
                    "client_id": client_id,
                    "resource": inst.resource,
                },
            }
            for title, form in requests.items():
                recorder.events, recorder.on = [], True
                response = await http.post(
                    "/token",
                    content=urlencode(form),
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                recorder.on = False
                print(summarize(f"{backend}, {title}", response.status_code, recorder.events))
                print()
    finally:
        await storage.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sql_trace")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("OSTIARY_TEST_POSTGRES", prepare.POSTGRES_DEFAULT),
    )
    args = parser.parse_args(argv)
    recorder = Trace()
    recorder.listen()
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        with (
            tempfile.TemporaryDirectory(prefix="ostiary-trace-") as tmp,
            database(backend, args.postgres_url, Path(tmp)) as url,
        ):
            asyncio.run(trace(backend, url, Path(tmp), recorder))


if __name__ == "__main__":
    main()
