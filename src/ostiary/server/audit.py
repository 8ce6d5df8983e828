"""The audit trail: security events appended to storage with the request's source address.

The address comes from a context variable set per request by ``RequestAddress``, so the core
can report events without knowing about HTTP. A failure to write an event is logged and never
fails the request it describes.
"""

from __future__ import annotations

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


class AuditLog:
    """``EventSink`` that appends to the audit store."""

    def __init__(self, store: AuditStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

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
        try:
            await self._store.append_audit(record)
        except Exception:
            log.exception("could not write audit event %s", event)
