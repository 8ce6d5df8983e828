"""A short-lived cache of clients for the token endpoint, its hottest read.

Only the token endpoint uses it. Every code or refresh token it redeems descends from a grant
that ``/authorize`` made after reading the store itself, and removing a client revokes its
grants in the same step, so a stale entry never yields tokens for a removed client. A changed
client (say, a new secret) takes effect within ``ttl`` seconds. A grant that issues tokens on
the client alone (``client_credentials``) must not rely on this cache.
"""

from __future__ import annotations

from typing import Protocol

from ostiary.core.clock import Clock
from ostiary.core.models import Client, ClientId


class ClientSource(Protocol):
    async def get_client(self, client_id: ClientId) -> Client | None: ...


class ClientCache:
    """Known clients for ``ttl`` seconds; unknown ids are never cached."""

    def __init__(
        self, source: ClientSource, clock: Clock, *, ttl: int = 5, max_entries: int = 10_000
    ) -> None:
        self._source = source
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[ClientId, tuple[int, Client]] = {}

    async def get_client(self, client_id: ClientId) -> Client | None:
        now = self._clock.now()
        hit = self._entries.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        client = await self._source.get_client(client_id)
        if client is None:
            self._entries.pop(client_id, None)
            return None
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[client_id] = (now + self._ttl, client)
        return client
