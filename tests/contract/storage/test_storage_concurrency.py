"""Races the contract settles: one winner per code and per refresh token, on every backend.

For the SQL backends half the callers use a second, independent store on the same database,
as a second server process would.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ostiary.core.models import (
    AuthorizationCode,
    ClientId,
    Grant,
    GrantId,
    RefreshToken,
    UserId,
)
from ostiary.storage.protocols import Storage

NOW = 1_700_000_000
RACERS = 20


class Backend(Protocol):
    """The ``backend`` fixture (``conftest.Backend``): another store on the same database."""

    async def open(self) -> Storage: ...


def _grant(n: int) -> Grant:
    return Grant(GrantId(f"g{n}"), UserId("u"), ClientId("c"), frozenset({"s"}), "https://r", NOW)


def _token(n: int, grant: int = 1) -> RefreshToken:
    return RefreshToken(
        f"t{n}",
        GrantId(f"g{grant}"),
        ClientId("c"),
        UserId("u"),
        frozenset({"s"}),
        "r",
        NOW + 60,
        NOW,
    )


async def _two_stores(backend: Backend, store: Storage) -> list[Storage]:
    return [store, await backend.open()]


async def test_one_caller_consumes_a_code(backend: Backend, store: Storage) -> None:
    stores = await _two_stores(backend, store)
    code = AuthorizationCode(
        "c1", GrantId("g1"), ClientId("c"), UserId("u"), "https://cb", "x", "r",
        frozenset({"s"}), NOW + 60, NOW,
    )  # fmt: skip
    await store.save_grant(
        Grant(GrantId("g1"), UserId("u"), ClientId("c"), frozenset({"s"}), "r", NOW)
    )
    await store.save_authorization_code(code)
    results = await asyncio.gather(
        *(stores[i % 2].consume_authorization_code("c1", NOW + 1 + i) for i in range(RACERS))
    )
    assert all(r is not None for r in results)
    winners = [r for r in results if r is not None and r[1]]
    assert len(winners) == 1
    consumed = winners[0][0]
    assert consumed.consumed_at is not None
    assert all(r is not None and r[0] == consumed for r in results)


async def test_one_caller_rotates_a_token(backend: Backend, store: Storage) -> None:
    stores = await _two_stores(backend, store)
    await store.save_grant(_grant(1))
    await store.save_refresh_token(_token(0))
    results = await asyncio.gather(
        *(
            stores[i % 2].rotate_refresh_token("t0", _token(100 + i), f"sealed-{i}".encode(), NOW)
            for i in range(RACERS)
        )
    )
    assert results.count(True) == 1
    winner = results.index(True)
    stored = [i for i in range(RACERS) if await store.get_refresh_token(f"t{100 + i}")]
    assert stored == [winner]
    old = await stores[1].get_refresh_token("t0")
    assert old is not None
    assert old.rotated_at == NOW
    assert old.successor == f"sealed-{winner}".encode()


async def test_concurrent_writers_all_succeed(backend: Backend, store: Storage) -> None:
    """Many independent writes at once, from two stores: none fails (no "database is locked")."""
    stores = await _two_stores(backend, store)

    async def chain(n: int) -> None:
        s = stores[n % 2]
        await s.save_grant(_grant(n))
        await s.save_refresh_token(_token(n * 1000, grant=n))
        for step in range(3):
            rotated = await s.rotate_refresh_token(
                f"t{n * 1000 + step}", _token(n * 1000 + step + 1, grant=n), b"s", NOW
            )
            assert rotated
        assert await s.revoke_grant(GrantId(f"g{n}"), NOW)

    await asyncio.gather(*(chain(n) for n in range(RACERS)))
    for n in range(RACERS):
        g = await store.get_grant(GrantId(f"g{n}"))
        assert g is not None
        assert g.revoked_at == NOW
