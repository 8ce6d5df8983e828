"""The audit trail: security events appended to storage with the request's source address.

The address comes from a context variable set per request by ``RequestAddress``, so the core
can report events without knowing about HTTP. A failure to write an event is logged and never
fails the request it describes.

Routine successes on the token hot path (``ROUTINE``) are buffered while the server's flush
task runs (``flush_forever``, started with the app) and written in one transaction every
``FLUSH_INTERVAL`` seconds or ``FLUSH_SIZE`` events, and on shutdown: one insert per request
cost the token endpoint about 7% (``bench/``). So a crash may lose up to a second of those
routine events; every failure, refusal, revocation and sign-in is written at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from ostiary.core.clock import Clock
from ostiary.core.models import AuditEvent
from ostiary.storage.protocols import AuditStore

log = logging.getLogger("ostiary.audit")
_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("address", default=None)


class RequestAddress:
    """ASGI middleware: remember the client's address for the events of this request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        token = _address.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            _address.reset(token)


ROUTINE = frozenset({"code_issued", "code_redeemed", "token_refreshed", "client_token_issued"})
FLUSH_INTERVAL = 1.0
FLUSH_SIZE = 500


class AuditLog:
    """``EventSink`` that appends to the audit store."""

    def __init__(self, store: AuditStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._buffer: list[AuditEvent] = []
        self._buffering = False  # only while flush_forever runs, so nothing waits forever

    async def emit(
        self,
        event: str,
        outcome: str,
        *,
        user_id: str | None = None,
        client_id: str | None = None,
        grant_id: str | None = None,
        detail: str = "",
    ) -> None:
        record = AuditEvent(
            at=self._clock.now(),
            event=event,
            outcome=outcome,
            user_id=user_id,
            client_id=client_id,
            grant_id=grant_id,
            address=_address.get(),
            detail=detail[:500],
        )
        if self._buffering and outcome == "success" and event in ROUTINE:
            self._buffer.append(record)
            if len(self._buffer) >= FLUSH_SIZE:
                await self.flush()
            return
        try:
            await self._store.append_audit(record)
        except Exception:
            log.exception("could not write audit event %s", event)

    async def flush(self) -> None:
        """Write the buffered events, oldest first."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            await self._store.append_audit_many(batch)
        except Exception:
            log.exception("could not write %d audit events", len(batch))

    async def flush_forever(self, interval: float = FLUSH_INTERVAL) -> None:
        """Buffer routine events and flush them periodically; flush the rest when cancelled."""
        self._buffering = True
        try:
            while True:
                await asyncio.sleep(interval)
                await self.flush()
        finally:
            self._buffering = False
            await self.flush()
