"""Cost of the token endpoint's store calls, one at a time, through the ``Storage`` API.

``python -m bench.store_calls [--backend sqlite|postgres|both] [--calls N]`` opens a store
with ``open_storage`` (SQLite file or a fresh PostgreSQL database), adds a client, a grant and
a refresh token, then times, sequentially and without HTTP, the calls one ``refresh_token``
grant makes (``get_client``, ``get_refresh_token``, ``rotate_refresh_token``) and the whole
sequence. It prints wall time and this process's CPU time (all threads) per call, in
microseconds: with no concurrency, what each call costs the event loop plus the database
driver. Compare it with the server's ``ms CPU`` column of ``bench.token_endpoint``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import prepare
from ostiary.core.models import Client, ClientId, Grant, GrantId, RefreshToken, UserId
from ostiary.crypto.tokens import TokenHasher
from ostiary.storage.sql import open_storage

WARMUP = 200
RESOURCE = "http://127.0.0.1:9/mcp"
SCOPES = frozenset({"tools:read"})


async def timed(label: str, calls: int, call: Callable[[int], Awaitable[object]]) -> None:
    for i in range(WARMUP):
        await call(i)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(WARMUP, WARMUP + calls):
        await call(i)
    wall = (time.perf_counter() - wall0) / calls * 1e6
    cpu = (time.process_time() - cpu0) / calls * 1e6
    print(f"  {label:<46} wall {wall:7.0f} us   CPU {cpu:7.0f} us")


async def measure(backend: str, url: str, calls: int) -> None:
    storage = await open_storage(url)
    try:
        now = int(time.time())
        hasher = TokenHasher(os.urandom(32))
        client = Client(ClientId("bench-client"), "bench", ("http://127.0.0.1/cb",))
        grant = Grant(
            GrantId("bench-grant"), UserId("bench-user"), client.client_id, SCOPES, RESOURCE, now
        )
        await storage.save_client(client)
        await storage.save_grant(grant)

        def token(n: int) -> RefreshToken:
            return RefreshToken(
                hasher.hash(f"t{n}"),
                grant.grant_id,
                client.client_id,
                grant.user_id,
                SCOPES,
                RESOURCE,
                now + 3600,
                now,
            )

        await storage.save_refresh_token(token(0))
        sealed = os.urandom(600)
        step = [0]

        async def rotate(_: int) -> None:
            n = step[0] = step[0] + 1
            if not await storage.rotate_refresh_token(
                token(n - 1).token_hash, token(n), sealed, now
            ):
                raise RuntimeError("rotation failed")

        async def refresh(i: int) -> None:
            await storage.get_client(client.client_id)
            await storage.get_refresh_token(token(step[0]).token_hash)
            await rotate(i)

        print(f"{backend}: sequential store calls ({calls} each, after {WARMUP} unmeasured)")
        await timed("get_client", calls, lambda _: storage.get_client(client.client_id))
        await timed(
            "get_refresh_token",
            calls,
            lambda _: storage.get_refresh_token(token(step[0]).token_hash),
        )
        await timed("rotate_refresh_token (UPDATE + INSERT)", calls, rotate)
        await timed("refresh grant's 3 calls in sequence", calls, refresh)
    finally:
        await storage.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_calls")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("OSTIARY_TEST_POSTGRES", prepare.POSTGRES_DEFAULT),
    )
    args = parser.parse_args(argv)
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="ostiary-store-") as tmp:
                url = f"sqlite:///{Path(tmp) / 'ostiary.sqlite3'}"
                asyncio.run(measure(backend, url, args.calls))
        else:
            with prepare.fresh_postgres(args.postgres_url) as url:
                asyncio.run(measure(backend, url, args.calls))


if __name__ == "__main__":
    main()
