"""In-memory storage: the reference implementation of ``protocols`` and the unit-test store.

Each method runs without an ``await`` between its read and its write, so on one event loop
every method is atomic, which is what the contract demands of the SQL stores.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from ostiary.core.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    ClientId,
    Consent,
    Grant,
    GrantId,
    RefreshToken,
    SigningKey,
    User,
    UserId,
)
from ostiary.storage.protocols import DuplicateError


class MemoryStorage:
    """All stores in dictionaries."""

    def __init__(self) -> None:
        self.clients: dict[ClientId, Client] = {}
        self.users: dict[UserId, User] = {}
        self.grants: dict[GrantId, Grant] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.consents: dict[tuple[UserId, ClientId], Consent] = {}
        self.keys: dict[str, SigningKey] = {}
        self.audit: list[AuditEvent] = []

    async def close(self) -> None:
        return None

    # clients
    async def save_client(self, client: Client) -> None:
        if client.client_id in self.clients:
            raise DuplicateError(client.client_id)
        self.clients[client.client_id] = client

    async def get_client(self, client_id: ClientId) -> Client | None:
        return self.clients.get(client_id)

    async def list_clients(self) -> list[Client]:
        return sorted(self.clients.values(), key=lambda c: (c.created_at, c.client_id))

    async def delete_client(self, client_id: ClientId, now: int) -> bool:
        if self.clients.pop(client_id, None) is None:
            return False
        self._revoke_where(lambda g: g.client_id == client_id, now)
        return True

    async def touch_client(self, client_id: ClientId, now: int) -> None:
        client = self.clients.get(client_id)
        if client is not None:
            self.clients[client_id] = replace(client, last_used_at=now)

    async def delete_unused_clients(self, before: int, now: int) -> int:
        unused = [
            c.client_id
            for c in self.clients.values()
            if c.dynamic and (c.last_used_at or c.created_at) < before
        ]
        for client_id in unused:
            await self.delete_client(client_id, now)
        return len(unused)

    # users
    async def add_user(self, user: User) -> None:
        if user.user_id in self.users or any(
            u.username == user.username for u in self.users.values()
        ):
            raise DuplicateError(user.username)
        self.users[user.user_id] = user

    async def get_user(self, user_id: UserId) -> User | None:
        return self.users.get(user_id)

    async def get_user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username == username), None)

    async def list_users(self) -> list[User]:
        return sorted(self.users.values(), key=lambda u: u.username)

    async def count_users(self) -> int:
        return len(self.users)

    async def set_password(self, username: str, password_hash: str) -> bool:
        user = await self.get_user_by_name(username)
        if user is None:
            return False
        self.users[user.user_id] = replace(user, password_hash=password_hash)
        return True

    async def delete_user(self, username: str, now: int) -> bool:
        user = await self.get_user_by_name(username)
        if user is None:
            return False
        del self.users[user.user_id]
        self._revoke_where(lambda g: g.user_id == user.user_id, now)
        for key in [k for k in self.consents if k[0] == user.user_id]:
            del self.consents[key]
        return True

    # grants
    async def save_grant(self, grant: Grant) -> None:
        if grant.grant_id in self.grants:
            raise DuplicateError(grant.grant_id)
        self.grants[grant.grant_id] = grant

    async def get_grant(self, grant_id: GrantId) -> Grant | None:
        return self.grants.get(grant_id)

    async def revoke_grant(self, grant_id: GrantId, now: int) -> bool:
        grant = self.grants.get(grant_id)
        if grant is None or grant.revoked_at is not None:
            return False
        self.grants[grant_id] = replace(grant, revoked_at=now)
        return True

    async def list_grants(
        self,
        *,
        user_id: UserId | None = None,
        client_id: ClientId | None = None,
        include_revoked: bool = False,
    ) -> list[Grant]:
        found = [
            replace(g, last_used_at=self._last_used(g))
            for g in self.grants.values()
            if (user_id is None or g.user_id == user_id)
            and (client_id is None or g.client_id == client_id)
            and (include_revoked or g.revoked_at is None)
        ]
        return sorted(found, key=lambda g: (-g.created_at, g.grant_id))

    def _last_used(self, grant: Grant) -> int | None:
        issued = [
            t.created_at for t in self.refresh_tokens.values() if t.grant_id == grant.grant_id
        ]
        return max(issued, default=grant.last_used_at)

    def _revoke_where(self, predicate: Callable[[Grant], bool], now: int) -> None:
        for grant in list(self.grants.values()):
            if predicate(grant) and grant.revoked_at is None:
                self.grants[grant.grant_id] = replace(grant, revoked_at=now)

    def _grant_live(self, grant_id: GrantId) -> bool:
        grant = self.grants.get(grant_id)
        return grant is not None and grant.revoked_at is None

    # authorization codes
    async def save_authorization_code(self, code: AuthorizationCode) -> None:
        if code.code_hash in self.codes:
            raise DuplicateError("authorization code")
        self.codes[code.code_hash] = code

    async def consume_authorization_code(
        self, code_hash: str, now: int
    ) -> tuple[AuthorizationCode, bool] | None:
        code = self.codes.get(code_hash)
        if code is None:
            return None
        if code.consumed_at is not None or not self._grant_live(code.grant_id):
            return code, False
        consumed = replace(code, consumed_at=now)
        self.codes[code_hash] = consumed
        return consumed, True

    # refresh tokens
    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        token = self.refresh_tokens.get(token_hash)
        if token is None or not self._grant_live(token.grant_id):
            return None
        return token

    async def save_refresh_token(self, token: RefreshToken) -> None:
        if token.token_hash in self.refresh_tokens:
            raise DuplicateError("refresh token")
        self.refresh_tokens[token.token_hash] = token

    async def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, sealed: bytes, now: int
    ) -> bool:
        token = self.refresh_tokens.get(token_hash)
        if (
            token is None
            or token.rotated_at is not None
            or token.expires_at <= now
            or not self._grant_live(token.grant_id)
        ):
            return False
        if successor.token_hash in self.refresh_tokens:
            raise DuplicateError("refresh token")
        self.refresh_tokens[token_hash] = replace(token, rotated_at=now, successor=sealed)
        self.refresh_tokens[successor.token_hash] = successor
        return True

    # consents
    async def get_consent(self, user_id: UserId, client_id: ClientId) -> Consent | None:
        return self.consents.get((user_id, client_id))

    async def save_consent(self, consent: Consent) -> None:
        self.consents[(consent.user_id, consent.client_id)] = consent

    # maintenance
    async def purge_expired(self, before: int) -> int:
        codes = [h for h, c in self.codes.items() if c.expires_at < before]
        tokens = [h for h, t in self.refresh_tokens.items() if t.expires_at < before]
        for h in codes:
            del self.codes[h]
        for h in tokens:
            del self.refresh_tokens[h]
        return len(codes) + len(tokens)

    # audit
    async def append_audit(self, event: AuditEvent) -> None:
        self.audit.append(event)

    async def append_audit_many(self, events: Sequence[AuditEvent]) -> None:
        self.audit.extend(events)

    async def list_audit(
        self, since: int = 0, limit: int = 1000, events: Collection[str] | None = None
    ) -> list[AuditEvent]:
        found = [e for e in self.audit if e.at >= since and (events is None or e.event in events)]
        return found[-limit:] if limit else []

    # signing keys
    async def save_signing_key(self, key: SigningKey) -> None:
        if key.kid in self.keys:
            raise DuplicateError(key.kid)
        self.keys[key.kid] = key

    async def list_signing_keys(self) -> list[SigningKey]:
        return sorted(self.keys.values(), key=lambda k: (k.created_at, k.kid))

    async def retire_signing_key(self, kid: str, now: int) -> bool:
        key = self.keys.get(kid)
        if key is None or key.retired_at is not None:
            return False
        self.keys[kid] = replace(key, retired_at=now)
        return True
