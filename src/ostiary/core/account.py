"""A person's authorized applications: what they granted, and taking a grant back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ostiary.core.consent import forget_consent
from ostiary.core.events import EventSink
from ostiary.core.models import ClientId, Grant, GrantId, UserId
from ostiary.core.scopes import SCOPE_DESCRIPTIONS, format_scope

if TYPE_CHECKING:
    from ostiary.storage.protocols import Storage


@dataclass(frozen=True, slots=True)
class AuthorizedApplication:
    """One live grant as the account page shows it."""

    grant: Grant
    client_name: str
    scopes: tuple[tuple[str, str], ...]  # (scope, plain description), in documented order


def describe_scopes(scopes: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple((s, SCOPE_DESCRIPTIONS.get(s, s)) for s in format_scope(scopes).split())


async def authorized_applications(user_id: UserId, storage: Storage) -> list[AuthorizedApplication]:
    """The user's unrevoked grants, newest first, with their clients' names."""
    names: dict[ClientId, str] = {}
    found = []
    for grant in await storage.list_grants(user_id=user_id):
        if grant.client_id not in names:
            client = await storage.get_client(grant.client_id)
            names[grant.client_id] = client.client_name if client else grant.client_id
        found.append(
            AuthorizedApplication(grant, names[grant.client_id], describe_scopes(grant.scopes))
        )
    return found


async def revoke(grant: Grant, by: str, *, storage: Storage, events: EventSink, now: int) -> bool:
    """Revoke the grant (every token from it dies) and forget the consent it rests on, so the
    next authorization asks the user again; False if it was already revoked."""
    if not await storage.revoke_grant(grant.grant_id, now):
        return False
    await forget_consent(grant.user_id, grant.client_id, now, storage)
    await events.emit(
        "grant_revoked",
        "success",
        user_id=grant.user_id,
        client_id=grant.client_id,
        grant_id=grant.grant_id,
        detail=f"by {by}",
    )
    return True


async def revoke_own_grant(
    user_id: UserId, grant_id: GrantId, *, storage: Storage, events: EventSink, now: int
) -> bool:
    """The signed-in user takes back one of their own grants; anyone else's is refused (False),
    indistinguishable from an unknown id."""
    grant = await storage.get_grant(grant_id)
    if grant is None or grant.user_id != user_id:
        await events.emit(
            "grant_revoked", "failure", user_id=user_id, detail="not the user's grant"
        )
        return False
    return await revoke(grant, "user", storage=storage, events=events, now=now)
