"""Storage protocols, one per aggregate, implemented by ``memory`` and ``sql``.

Every backend passes the one contract suite in ``tests/contract/storage``. Single use and
rotation are decided by the store itself, atomically, so two racing callers can never both win.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

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


class DuplicateError(Exception):
    """A record with the same unique key already exists."""


class ClientStore(Protocol):
    async def save_client(self, client: Client) -> None:
        """Insert a client; raise ``DuplicateError`` if its id is taken."""

    async def get_client(self, client_id: ClientId) -> Client | None: ...

    async def list_clients(self) -> list[Client]: ...

    async def delete_client(self, client_id: ClientId, now: int) -> bool:
        """Remove the client and revoke its grants; False if it did not exist."""

    async def touch_client(self, client_id: ClientId, now: int) -> None:
        """Record that the client was used now (``last_used_at``)."""

    async def delete_unused_clients(self, before: int, now: int) -> int:
        """Remove dynamically registered clients last used (or, never used, created) before
        ``before``, revoking their grants; return how many."""


class UserStore(Protocol):
    async def add_user(self, user: User) -> None:
        """Insert a user; raise ``DuplicateError`` if the username is taken."""

    async def get_user(self, user_id: UserId) -> User | None: ...

    async def get_user_by_name(self, username: str) -> User | None: ...

    async def list_users(self) -> list[User]: ...

    async def count_users(self) -> int: ...

    async def set_password(self, username: str, password_hash: str) -> bool: ...

    async def delete_user(self, username: str, now: int) -> bool:
        """Remove the user and revoke their grants; False if unknown."""


class GrantStore(Protocol):
    async def save_grant(self, grant: Grant) -> None: ...

    async def get_grant(self, grant_id: GrantId) -> Grant | None: ...

    async def revoke_grant(self, grant_id: GrantId, now: int) -> bool:
        """Revoke a grant and so every token descending from it; False if unknown or revoked."""

    async def list_grants(
        self,
        *,
        user_id: UserId | None = None,
        client_id: ClientId | None = None,
        include_revoked: bool = False,
    ) -> list[Grant]:
        """Grants, newest first, each with ``last_used_at`` set to its latest token issuance."""


class AuditStore(Protocol):
    async def append_audit(self, event: AuditEvent) -> None: ...

    async def append_audit_many(self, events: Sequence[AuditEvent]) -> None:
        """Append several events in one transaction, in order."""

    async def list_audit(
        self, since: int = 0, limit: int = 1000, events: Collection[str] | None = None
    ) -> list[AuditEvent]:
        """Events at or after ``since`` (of the kinds in ``events``, when given), oldest first,
        at most ``limit`` (the newest ones)."""


class AuthorizationCodeStore(Protocol):
    async def save_authorization_code(self, code: AuthorizationCode) -> None: ...

    async def consume_authorization_code(
        self, code_hash: str, now: int
    ) -> tuple[AuthorizationCode, bool] | None:
        """Atomically mark the code used, if its grant is still live.

        Returns the record and True for the one caller that consumed it; the record and False
        for any later caller (a replay) or when its grant is revoked or missing; None for an
        unknown code. The grant check is part of the same atomic step, so a racing replay
        that revokes the grant can never leave zero winners.
        """


class RefreshTokenStore(Protocol):
    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The token record, or None if unknown or if its grant is revoked."""

    async def save_refresh_token(self, token: RefreshToken) -> None: ...

    async def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, sealed: bytes, now: int
    ) -> bool:
        """Atomically retire a live token and store its successor.

        Succeeds (True) only if the token is unrotated, unexpired and its grant unrevoked; it
        records ``rotated_at=now`` and the sealed successor response for grace-window retries,
        and saves ``successor``, all in one transaction. False for every other caller.
        """


class ConsentStore(Protocol):
    async def get_consent(self, user_id: UserId, client_id: ClientId) -> Consent | None: ...

    async def save_consent(self, consent: Consent) -> None:
        """Insert or replace the consent for (user, client)."""


class KeyStore(Protocol):
    async def save_signing_key(self, key: SigningKey) -> None: ...

    async def list_signing_keys(self) -> list[SigningKey]:
        """All keys, oldest first."""

    async def retire_signing_key(self, kid: str, now: int) -> bool: ...


class MaintenanceStore(Protocol):
    async def purge_expired(self, before: int) -> int:
        """Delete codes and refresh tokens that expired before ``before``; return the count.

        A rotated refresh token is kept until it expires, so its reuse is still detected.
        """


class Storage(
    MaintenanceStore,
    AuditStore,
    ClientStore,
    UserStore,
    GrantStore,
    AuthorizationCodeStore,
    RefreshTokenStore,
    ConsentStore,
    KeyStore,
    Protocol,
):
    """Everything the authorization server keeps."""

    async def close(self) -> None: ...
