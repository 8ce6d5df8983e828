"""A person's authorized applications: what they granted, and taking an application's access back.

A client may hold several live grants from one person: every authorization makes a grant, and
a client that steps up (a 403 ``insufficient_scope``, then a new authorization for more scopes)
keeps its old grant too until that grant's refresh token expires. The person sees one
application, though, and consent is remembered per person and client: so the account page
lists each client once, with every scope its grants hold, and taking its access back revokes
all of them.
"""

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
    """One client's live grants as the account page shows them."""

    grants: tuple[Grant, ...]  # newest first, never empty
    client_name: str
    scopes: tuple[tuple[str, str], ...]  # (scope, plain description), in documented order

    @property
    def grant(self) -> Grant:
        """The newest grant: the one a revocation form names."""
        return self.grants[0]

    @property
    def authorized_at(self) -> int:
        return min(g.created_at for g in self.grants)

    @property
    def last_used_at(self) -> int | None:
        return max((g.last_used_at for g in self.grants if g.last_used_at), default=None)


def describe_scopes(scopes: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple((s, SCOPE_DESCRIPTIONS.get(s, s)) for s in format_scope(scopes).split())


async def authorized_applications(user_id: UserId, storage: Storage) -> list[AuthorizedApplication]:
    """The clients holding the user's unrevoked grants, most recently authorized first."""
    by_client: dict[ClientId, list[Grant]] = {}
    for grant in await storage.list_grants(user_id=user_id):  # newest first
        by_client.setdefault(grant.client_id, []).append(grant)
    found = []
    for client_id, grants in by_client.items():
        client = await storage.get_client(client_id)
        scopes = frozenset().union(*(g.scopes for g in grants))
        name = client.client_name if client else client_id
        found.append(AuthorizedApplication(tuple(grants), name, describe_scopes(scopes)))
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
    """The signed-in user takes back the application holding one of their own grants: that
    grant and the user's other live grants to the same client. Anyone else's grant is refused
    (False), indistinguishable from an unknown id."""
    grant = await storage.get_grant(grant_id)
    if grant is None or grant.user_id != user_id:
        await events.emit(
            "grant_revoked", "failure", user_id=user_id, detail="not the user's grant"
        )
        return False
    done = await revoke(grant, "user", storage=storage, events=events, now=now)
    for sibling in await storage.list_grants(user_id=user_id, client_id=grant.client_id):
        done = await revoke(sibling, "user", storage=storage, events=events, now=now) or done
    return done
