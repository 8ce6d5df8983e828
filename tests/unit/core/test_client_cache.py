"""The token endpoint's client cache: known clients for a few seconds, unknown ones never."""

from __future__ import annotations

from dataclasses import replace

from ostiary.core.client_cache import ClientCache
from ostiary.core.clock import FrozenClock
from ostiary.core.models import Client, ClientId
from ostiary.storage.memory import MemoryStorage

CLIENT = Client(ClientId("c1"), "One", ("https://a.example/cb",))


class CountingStore(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_client(self, client_id: ClientId) -> Client | None:
        self.reads += 1
        return await super().get_client(client_id)


async def test_known_client_is_served_from_cache_until_the_ttl() -> None:
    store, clock = CountingStore(), FrozenClock()
    cache = ClientCache(store, clock, ttl=5)
    await store.save_client(CLIENT)
    assert await cache.get_client(CLIENT.client_id) == CLIENT
    store.clients[CLIENT.client_id] = replace(CLIENT, client_name="Renamed")
    clock.advance(4)
    assert (await cache.get_client(CLIENT.client_id)) == CLIENT
    assert store.reads == 1
    clock.advance(1)
    renamed = await cache.get_client(CLIENT.client_id)
    assert renamed is not None
    assert renamed.client_name == "Renamed"
    assert store.reads == 2


async def test_unknown_client_is_never_cached() -> None:
    store, clock = CountingStore(), FrozenClock()
    cache = ClientCache(store, clock)
    assert await cache.get_client(ClientId("nobody")) is None
    assert await cache.get_client(ClientId("nobody")) is None
    assert store.reads == 2
    await store.save_client(replace(CLIENT, client_id=ClientId("nobody")))
    assert await cache.get_client(ClientId("nobody")) is not None


async def test_removed_client_disappears_after_the_ttl() -> None:
    store, clock = CountingStore(), FrozenClock()
    cache = ClientCache(store, clock, ttl=5)
    await store.save_client(CLIENT)
    await cache.get_client(CLIENT.client_id)
    await store.delete_client(CLIENT.client_id, clock.now())
    clock.advance(5)
    assert await cache.get_client(CLIENT.client_id) is None


async def test_size_is_bounded() -> None:
    store, clock = CountingStore(), FrozenClock()
    cache = ClientCache(store, clock, max_entries=2)
    for n in range(3):
        await store.save_client(replace(CLIENT, client_id=ClientId(f"c{n}")))
        await cache.get_client(ClientId(f"c{n}"))
    reads = store.reads
    await cache.get_client(ClientId("c2"))  # the newest is kept
    assert store.reads == reads
    await cache.get_client(ClientId("c0"))  # the oldest went with the clear
    assert store.reads == reads + 1
