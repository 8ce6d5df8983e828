"""Domain records: frozen, slotted dataclasses shared by the core and every store.

Secrets never appear here in clear: codes, tokens and client secrets are kept as
``*_hash`` (HMAC-SHA256 under the server key), passwords as argon2id strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NewType

ClientId = NewType("ClientId", str)
UserId = NewType("UserId", str)
GrantId = NewType("GrantId", str)


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"


class AuthMethod(StrEnum):
    NONE = "none"
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"


class ApplicationType(StrEnum):
    """OpenID Connect Registration §2: where the client runs, which shapes its redirect URIs."""

    WEB = "web"
    NATIVE = "native"


@dataclass(frozen=True, slots=True)
class Client:
    """A registered OAuth client (RFC 7591 §2 metadata subset)."""

    client_id: ClientId
    client_name: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: AuthMethod = AuthMethod.NONE
    grant_types: tuple[GrantType, ...] = (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN)
    scope: frozenset[str] | None = None  # None: any supported scope
    secret_hash: str | None = None
    created_at: int = 0
    application_type: ApplicationType = ApplicationType.WEB
    jwks: dict[str, Any] | None = field(default=None, hash=False)  # private_key_jwt keys
    jwks_uri: str | None = None  # ... or by reference
    client_secret_expires_at: int = 0  # 0: never (RFC 7591 §3.2.1)
    dynamic: bool = False  # registered through /register (RFC 7591), not by an operator
    last_used_at: int | None = None  # refreshed at most daily, for the unused-client cleanup
    extra_metadata: dict[str, Any] = field(default_factory=dict, hash=False)  # RFC 7591, echoed

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method is AuthMethod.NONE


@dataclass(frozen=True, slots=True)
class User:
    """A person who can sign in on the login page."""

    user_id: UserId
    username: str
    password_hash: str
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class Grant:
    """One authorization a user gave a client; every token descends from one grant."""

    grant_id: GrantId
    user_id: UserId
    client_id: ClientId
    scopes: frozenset[str]
    resource: str
    created_at: int
    last_used_at: int | None = None
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """A single-use code bound to client, user, redirect URI, challenge, resource and scopes."""

    code_hash: str
    grant_id: GrantId
    client_id: ClientId
    user_id: UserId
    redirect_uri: str
    code_challenge: str
    resource: str
    scopes: frozenset[str]
    expires_at: int
    created_at: int
    consumed_at: int | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token record; rotated once, after which only a grace-window retry may read it."""

    token_hash: str
    grant_id: GrantId
    client_id: ClientId
    user_id: UserId
    scopes: frozenset[str]
    resource: str
    expires_at: int
    created_at: int
    rotated_at: int | None = None
    successor: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Consent:
    """Scopes a user has approved for a client, remembered so the consent page is not repeated."""

    user_id: UserId
    client_id: ClientId
    scopes: frozenset[str]
    updated_at: int


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A JWS signing key; the private part is encrypted under the server key at rest."""

    kid: str
    alg: str
    private_key: bytes  # encrypted PEM
    public_jwk: dict[str, str]
    created_at: int
    retired_at: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One security event, as the audit trail keeps it; never holds a secret."""

    at: int
    event: str  # e.g. login, consent, code_issued, code_redeemed, token_refreshed, ...
    outcome: str  # success | failure
    user_id: str | None = None
    client_id: str | None = None
    grant_id: str | None = None
    address: str | None = None
    detail: str = ""
