"""Remembered consent: a user approves a client's scopes once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ostiary.core.deps import Deps
from ostiary.core.models import ClientId, Consent, UserId

if TYPE_CHECKING:
    from ostiary.storage.protocols import ConsentStore


async def consent_covers(
    user_id: UserId, client_id: ClientId, scopes: frozenset[str], deps: Deps
) -> bool:
    """True if the user already approved at least ``scopes`` for this client."""
    consent = await deps.storage.get_consent(user_id, client_id)
    return consent is not None and bool(consent.scopes) and scopes <= consent.scopes


async def remember_consent(
    user_id: UserId, client_id: ClientId, scopes: frozenset[str], deps: Deps
) -> None:
    """Add ``scopes`` to what the user has approved for the client."""
    current = await deps.storage.get_consent(user_id, client_id)
    approved = scopes | (current.scopes if current else frozenset())
    await deps.storage.save_consent(Consent(user_id, client_id, approved, deps.clock.now()))


async def forget_consent(
    user_id: UserId, client_id: ClientId, now: int, storage: ConsentStore
) -> None:
    """The user took an authorization back: the next request for this client asks again.

    Kept as an empty consent (which covers nothing), so every backend's upsert suffices.
    """
    await storage.save_consent(Consent(user_id, client_id, frozenset(), now))
