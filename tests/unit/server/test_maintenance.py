"""The purge task deletes what expired more than the slack ago, and survives failures."""

from __future__ import annotations

import asyncio

import pytest

from ostiary.core.clock import FrozenClock
from ostiary.core.models import AuthorizationCode, ClientId, GrantId, UserId
from ostiary.server.maintenance import PURGE_SLACK, purge_forever, purge_once
from ostiary.storage.memory import MemoryStorage


def _code(n: int, expires_at: int) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=f"h{n}",
        grant_id=GrantId("g"),
        client_id=ClientId("c"),
        user_id=UserId("u"),
        redirect_uri="",
        code_challenge="x" * 43,
        resource="https://r.example/mcp",
        scopes=frozenset(),
        expires_at=expires_at,
        created_at=0,
    )


async def test_purge_once_respects_the_slack() -> None:
    clock = FrozenClock(1_000_000)
    store = MemoryStorage()
    await store.save_authorization_code(_code(1, clock.now() - PURGE_SLACK - 1))
    await store.save_authorization_code(_code(2, clock.now() - 1))
    assert await purge_once(store, clock) == 1
    assert set(store.codes) == {"h2"}


class FailingOnce(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.third_call = asyncio.Event()

    async def purge_expired(self, before: int) -> int:
        self.calls += 1
        if self.calls == 3:
            self.third_call.set()
        if self.calls == 1:
            raise RuntimeError("database went away")
        return await super().purge_expired(before)


async def test_purge_forever_keeps_going_after_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    store = FailingOnce()
    task = asyncio.create_task(purge_forever(store, FrozenClock(), interval=0))
    await asyncio.wait_for(store.third_call.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "purging expired records failed" in caplog.text
