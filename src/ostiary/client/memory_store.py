"""``MemoryStore``: a ``CredentialStore`` in dicts, for tests and one-shot use in one process.

Nothing survives the process, and ``lock(name)`` is an ``asyncio.Lock`` per name, so it only
orders tasks of this process (one event loop), never other processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from ostiary.client.models import ClientRegistration, Session


class MemoryStore:
    def __init__(self) -> None:
        self._clients: dict[str, ClientRegistration] = {}
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get_client(self, issuer: str) -> ClientRegistration | None:
        return self._clients.get(issuer)

    def put_client(self, registration: ClientRegistration) -> None:
        self._clients[registration.issuer] = registration

    def drop_client(self, issuer: str) -> None:
        self._clients.pop(issuer, None)

    def get_session(self, resource: str) -> Session | None:
        return self._sessions.get(resource)

    def put_session(self, session: Session) -> None:
        self._sessions[session.resource] = session

    def drop_session(self, resource: str) -> None:
        self._sessions.pop(resource, None)

    def sessions(self) -> list[Session]:
        return [self._sessions[resource] for resource in sorted(self._sessions)]

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        return _holding(self._locks.setdefault(name, asyncio.Lock()))


@asynccontextmanager
async def _holding(lock: asyncio.Lock) -> AsyncIterator[None]:
    async with lock:
        yield
