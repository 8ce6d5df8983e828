"""Minting a token pair for a grant: an RFC 9068 JWT access token and an opaque refresh token."""

from __future__ import annotations

from dataclasses import dataclass

from ostiary.core.deps import Deps
from ostiary.core.models import Client, GrantId, GrantType, RefreshToken, UserId
from ostiary.core.responses import TokenResponse
from ostiary.core.scopes import format_scope


@dataclass(frozen=True, slots=True)
class Issued:
    """A token response and, if one was minted, the refresh-token record to store."""

    response: TokenResponse
    refresh_record: RefreshToken | None


def sign_access_token(
    client: Client,
    *,
    user_id: UserId,
    grant_id: GrantId,
    scopes: frozenset[str],
    resource: str,
    deps: Deps,
) -> str:
    """RFC 9068 §2.2 claims, audience-bound to the one resource (RFC 8707)."""
    now = deps.clock.now()
    return deps.signer.sign(
        {
            "iss": deps.config.issuer,
            "sub": user_id,
            "aud": resource,
            "client_id": client.client_id,
            "scope": format_scope(scopes),
            "iat": now,
            "exp": now + deps.config.access_token_ttl,
            "jti": deps.new_id(),
            "gid": grant_id,
        }
    )


def issue_tokens(
    client: Client,
    *,
    user_id: UserId,
    grant_id: GrantId,
    granted: frozenset[str],
    resource: str,
    deps: Deps,
    access_scopes: frozenset[str] | None = None,
) -> Issued:
    """Access token for ``access_scopes`` (default: all granted), refresh token for ``granted``."""
    scopes = granted if access_scopes is None else access_scopes
    access = sign_access_token(
        client, user_id=user_id, grant_id=grant_id, scopes=scopes, resource=resource, deps=deps
    )
    record: RefreshToken | None = None
    refresh: str | None = None
    if GrantType.REFRESH_TOKEN in client.grant_types:
        now = deps.clock.now()
        refresh = deps.new_token()
        record = RefreshToken(
            token_hash=deps.hasher.hash(refresh),
            grant_id=grant_id,
            client_id=client.client_id,
            user_id=user_id,
            scopes=granted,
            resource=resource,
            expires_at=now + deps.config.refresh_token_ttl,
            created_at=now,
        )
    response = TokenResponse(
        access_token=access,
        expires_in=deps.config.access_token_ttl,
        scope=format_scope(scopes),
        refresh_token=refresh,
    )
    return Issued(response, record)
