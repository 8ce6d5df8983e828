"""The per-call audit trail: one ``mcp_call`` event for each call the gateway forwards or denies.

Each event holds the time, the user (``user_id`` is the token's subject), the client, the
grant, and in its detail the token id, the method, the tool, resource or prompt name, the
decision (``allowed`` or ``denied``), the upstream latency and the outcome. Calls are queued and
written in batches by one background task (``run``), so a burst of calls costs one transaction
per batch, never one per call; what is still queued at shutdown is written before ``run`` ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ostiary.core.models import AuditEvent
from ostiary.resource.challenges import Refusal
from ostiary.resource.jsonrpc import Operation
from ostiary.resource.tokens import VerifiedToken
from ostiary.storage.protocols import AuditStore

log = logging.getLogger("ostiary.gateway.calls")

EVENT = "mcp_call"
BATCH = 500
INTERVAL = 0.5
MAX_QUEUED = 100_000


@dataclass(frozen=True, slots=True)
class CallRecord:
    token: VerifiedToken | None
    method: str
    target: str | None
    decision: str  # allowed | denied
    outcome: str  # ok | error | denied
    latency_ms: float | None = None
    error: str = ""


def detail(record: CallRecord) -> str:
    """``key=value`` pairs; values are single words (spaces in an error become ``_``)."""
    token_id = record.token.claims.get("jti") if record.token is not None else None
    parts = [
        f"token={token_id or '-'}",
        f"method={record.method}",
        f"name={record.target or '-'}",
        f"decision={record.decision}",
        "latency_ms=" + ("-" if record.latency_ms is None else f"{record.latency_ms:.1f}"),
    ]
    if record.error:
        parts.append("error=" + "_".join(record.error.split())[:200])
    return " ".join(parts)


def parse_detail(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def to_event(record: CallRecord, at: int) -> AuditEvent:
    token = record.token
    return AuditEvent(
        at=at,
        event=EVENT,
        outcome=record.outcome,
        user_id=token.subject if token is not None else None,
        client_id=token.client_id if token is not None else None,
        grant_id=token.grant_id if token is not None else None,
        detail=detail(record),
    )


class CallAudit:
    """``record`` never waits; ``run`` (a background task) writes what was recorded."""

    def __init__(self, store: AuditStore | None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._queue: list[AuditEvent] = []
        self._wake = asyncio.Event()
        self.dropped = 0

    def record(self, record: CallRecord) -> None:
        event = to_event(record, int(self._clock()))
        log.debug("%s %s user=%s %s", event.event, event.outcome, event.user_id, event.detail)
        if self._store is None:
            return
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append(event)
        if len(self._queue) >= BATCH:
            self._wake.set()

    def denied(
        self, operations: Sequence[Operation], token: VerifiedToken, refusal: Refusal
    ) -> None:
        """A request the policy refused (``ProtectedMCP(on_denied=…)``): one event per message."""
        for op in operations:
            if op.method is None or op.method.startswith("notifications/"):
                continue
            reason = f"{refusal.status} {refusal.error}: {refusal.description}"
            self.record(CallRecord(token, op.method, op.target, "denied", "denied", None, reason))

    async def flush(self) -> None:
        while self._queue and self._store is not None:
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            try:
                await self._store.append_audit_many(batch)
            except Exception:  # the store is down: keep serving, say so once per batch
                log.exception("could not write %d call audit events", len(batch))

    async def run(self) -> None:
        """Write batches until cancelled; then write what is left."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), INTERVAL)
                self._wake.clear()
                await self.flush()
        finally:
            await asyncio.shield(self.flush())
