"""Routine successes are batched while the flush task runs; everything else is written at once."""

from __future__ import annotations

import asyncio

import pytest

from ostiary.core.clock import FrozenClock
from ostiary.server import audit as audit_module
from ostiary.server.audit import ROUTINE, AuditLog
from ostiary.storage.memory import MemoryStorage


async def test_without_the_flush_task_every_event_is_written_at_once() -> None:
    store = MemoryStorage()
    log = AuditLog(store, FrozenClock())
    await log.emit("token_refreshed", "success", client_id="c")
    assert [e.event for e in store.audit] == ["token_refreshed"]


async def test_routine_successes_wait_for_the_flush_and_the_rest_do_not() -> None:
    store = MemoryStorage()
    log = AuditLog(store, FrozenClock())
    task = asyncio.create_task(log.flush_forever(interval=3600))
    await asyncio.sleep(0)  # let it start buffering
    for event in sorted(ROUTINE):
        await log.emit(event, "success", client_id="c")
    await log.emit("refresh_reuse", "failure", grant_id="g")
    await log.emit("token_refreshed", "failure", client_id="c")
    assert [e.event for e in store.audit] == ["refresh_reuse", "token_refreshed"]
    task.cancel()  # shutdown flushes what is buffered
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.event for e in store.audit][2:] == sorted(ROUTINE)
    await log.emit("code_issued", "success")  # no flush task any more: written at once
    assert store.audit[-1].event == "code_issued"


async def test_a_full_buffer_is_flushed_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_module, "FLUSH_SIZE", 3)
    store = MemoryStorage()
    log = AuditLog(store, FrozenClock())
    task = asyncio.create_task(log.flush_forever(interval=3600))
    await asyncio.sleep(0)
    for _ in range(3):
        await log.emit("code_redeemed", "success")
    assert len(store.audit) == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_periodic_flush() -> None:
    store = MemoryStorage()
    log = AuditLog(store, FrozenClock())
    task = asyncio.create_task(log.flush_forever(interval=0.01))
    await asyncio.sleep(0)
    await log.emit("code_redeemed", "success")
    for _ in range(200):
        if store.audit:
            break
        await asyncio.sleep(0.01)
    assert [e.event for e in store.audit] == ["code_redeemed"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
