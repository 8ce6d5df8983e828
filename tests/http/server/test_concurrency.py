"""Racing requests through the whole ASGI stack: one code, one winner; one refresh, one result."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from ostiary.core.models import Client, ClientId, RefreshToken
from ostiary.storage.memory import MemoryStorage

from ..helpers import ISSUER, RESOURCE, Server, pkce_pair, running

RACERS = 20


class SlowStorage(MemoryStorage):
    """Memory storage with a round trip before each refresh-path call, like a database's.

    Each call still runs atomically, but the event loop switches between requests at every
    call, in a fixed, varied pattern; the rotation is the slowest, so every racer reads the
    token before any has rotated it, and all but one lose the rotation itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pauses = itertools.cycle([0, 1, 3, 2, 5])

        self.rotations: list[bool] = []

    async def _round_trip(self, extra: int = 0) -> None:
        for _ in range(next(self._pauses) + extra):
            await asyncio.sleep(0)

    async def get_client(self, client_id: ClientId) -> Client | None:
        await self._round_trip()
        return await super().get_client(client_id)

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        await self._round_trip()
        return await super().get_refresh_token(token_hash)

    async def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, sealed: bytes, now: int
    ) -> bool:
        await self._round_trip(extra=3 * RACERS)
        rotated = await super().rotate_refresh_token(token_hash, successor, sealed, now)
        self.rotations.append(rotated)
        return rotated


@pytest.fixture(params=["memory", "slow"])
async def racing_server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    storage = SlowStorage() if request.param == "slow" else MemoryStorage()
    async with running(ISSUER, RESOURCE, storage) as server:
        yield server


async def test_concurrent_redemptions_of_one_code_have_exactly_one_winner(
    server: Server,
) -> None:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)

    responses = await asyncio.gather(*(server.redeem(code, verifier) for _ in range(RACERS)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (RACERS - 1)
    losers = [r.json() for r in responses if r.status_code == 400]
    assert {body["error"] for body in losers} == {"invalid_grant"}
    assert all(r.headers["cache-control"] == "no-store" for r in responses)


async def test_concurrent_refreshes_all_get_the_same_successor(racing_server: Server) -> None:
    server = racing_server
    first = await server.tokens()

    responses = await asyncio.gather(
        *(server.refresh(first["refresh_token"]) for _ in range(RACERS))
    )

    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    successors = {body["refresh_token"] for body in bodies}
    assert len(successors) == 1
    (successor,) = successors
    assert successor != first["refresh_token"]
    assert len({body["access_token"] for body in bodies}) == 1

    if isinstance(server.storage, SlowStorage):  # the lost-rotation path really ran
        assert sorted(server.storage.rotations) == [False] * (RACERS - 1) + [True]

    after = await server.refresh(successor)
    assert after.status_code == 200, after.text
    assert after.json()["refresh_token"] not in {successor, first["refresh_token"]}
