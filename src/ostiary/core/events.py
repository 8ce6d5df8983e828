"""Security events the core reports, for the audit trail (never carrying a secret)."""

from __future__ import annotations

from typing import Protocol


class EventSink(Protocol):
    """Receives each security event; the server writes them to the audit trail."""

    async def emit(
        self,
        event: str,
        outcome: str,
        *,
        user_id: str | None = None,
        client_id: str | None = None,
        grant_id: str | None = None,
        detail: str = "",
    ) -> None: ...


class NoEvents:
    """Drops every event (unit tests, library use without an audit trail)."""

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
        return None
