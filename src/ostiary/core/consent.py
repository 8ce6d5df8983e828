"""Remembered consent: a user approves a client's scopes once."""

from __future__ import annotations

from ostiary.core.deps import Deps
from ostiary.core.models import ClientId, Consent, UserId


async def consent_covers(
    user_id: UserId, client_id: ClientId, scopes: frozenset[str], deps: Deps
) -> bool:
    """True if the user already approved at least ``scopes`` for this client."""
    consent = await deps.storage.get_consent(user_id, client_id)
    return consent is not None and scopes <= consent.scopes


async def remember_consent(
    user_id: UserId, client_id: ClientId, scopes: frozenset[str], deps: Deps
) -> None:
    """Add ``scopes`` to what the user has approved for the client."""
    current = await deps.storage.get_consent(user_id, client_id)
    approved = scopes | (current.scopes if current else frozenset())
    await deps.storage.save_consent(Consent(user_id, client_id, approved, deps.clock.now()))
