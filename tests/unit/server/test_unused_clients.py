"""The upkeep task removes dynamically registered clients nobody used for ``unused_client_ttl``."""

from __future__ import annotations

import asyncio

import pytest

from ostiary.core.clock import FrozenClock
from ostiary.core.models import Client, ClientId, Grant, GrantId, UserId
from ostiary.server.maintenance import purge_forever, remove_unused_clients
from ostiary.storage.memory import MemoryStorage

DAY = 24 * 3600
TTL = 30 * DAY


def client(name: str, *, created: int, used: int | None = None, dynamic: bool = True) -> Client:
    return Client(
        ClientId(name),
        name,
        ("http://127.0.0.1/cb",),
        created_at=created,
        last_used_at=used,
        dynamic=dynamic,
    )


async def seeded(clock: FrozenClock) -> MemoryStorage:
    now = clock.now()
    store = MemoryStorage()
    for c in [
        client("never-used-old", created=now - TTL - 1),
        client("never-used-new", created=now - TTL + 60),
        client("used-long-ago", created=now - 90 * DAY, used=now - TTL - 1),
        client("used-recently", created=now - 90 * DAY, used=now - DAY),
        client("operator", created=now - 400 * DAY, dynamic=False),
    ]:
        await store.save_client(c)
    grant = Grant(GrantId("g"), UserId("u"), ClientId("used-long-ago"), frozenset(), "r", 0)
    await store.save_grant(grant)
    return store


async def test_removes_only_dynamic_clients_unused_for_the_ttl() -> None:
    clock = FrozenClock(1_800_000_000)
    store = await seeded(clock)

    assert await remove_unused_clients(store, clock, TTL) == 2

    assert sorted(store.clients) == ["never-used-new", "operator", "used-recently"]
    grant = await store.get_grant(GrantId("g"))
    assert grant is not None
    assert grant.revoked_at == clock.now()  # removing a client revokes its grants

    clock.advance(61)  # the newest one now crosses the line too
    assert await remove_unused_clients(store, clock, TTL) == 1
    assert sorted(store.clients) == ["operator", "used-recently"]


async def test_a_ttl_of_zero_keeps_every_client() -> None:
    clock = FrozenClock(1_800_000_000)
    store = await seeded(clock)
    assert await remove_unused_clients(store, clock, 0) == 0
    assert len(store.clients) == 5


class Watched(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.cleaned = asyncio.Event()

    async def delete_unused_clients(self, before: int, now: int) -> int:
        removed = await super().delete_unused_clients(before, now)
        self.cleaned.set()
        return removed


async def test_the_hourly_task_runs_the_cleanup_even_when_purging_fails() -> None:
    clock = FrozenClock(1_800_000_000)
    store = Watched()
    await store.save_client(client("stale", created=clock.now() - TTL - 1))

    async def broken_purge(before: int) -> int:
        raise RuntimeError("database went away")

    store.purge_expired = broken_purge  # type: ignore[method-assign]
    task = asyncio.create_task(purge_forever(store, clock, interval=3600, unused_client_ttl=TTL))
    await asyncio.wait_for(store.cleaned.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.clients == {}
