"""The introspection endpoint (RFC 7662): a resource server asks whether a token is active.

Only confidential clients may ask (resource servers are registered with ``--confidential``);
a public client has nothing to prove who it is, so it gets ``invalid_client`` (§2.1 requires
authorization, and this server only has client authentication to go by). Every confidential
client may introspect every token.

A token that is unknown, malformed, expired, rotated, revoked (its grant is), or signed by a
key we never published is answered with exactly ``{"active": false}`` (§2.2): nothing says why.
"""

from __future__ import annotations

from typing import Any

from ostiary.core.client_auth import ClientCredentials, authenticate_client
from ostiary.core.deps import Deps
from ostiary.core.errors import InvalidClient
from ostiary.core.params import Params
from ostiary.core.presented import (
    Found,
    FoundAccessToken,
    FoundRefreshToken,
    find_token,
    presented_token,
)
from ostiary.core.scopes import format_scope

ACCESS_CLAIMS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")


def inactive() -> dict[str, Any]:
    return {"active": False}


def describe_access_token(found: FoundAccessToken) -> dict[str, Any]:
    """RFC 7662 §2.2 members, copied from the verified JWT claims."""
    claims = found.claims
    body = {name: claims[name] for name in ACCESS_CLAIMS if name in claims}
    return {"active": True, **body, "token_type": "Bearer"}


def describe_refresh_token(found: FoundRefreshToken, deps: Deps) -> dict[str, Any] | None:
    """RFC 7662 §2.2 members of a live refresh token; None once rotated or expired."""
    record = found.record
    if record.rotated_at is not None or record.expires_at <= deps.clock.now():
        return None
    return {
        "active": True,
        "scope": format_scope(record.scopes),
        "client_id": record.client_id,
        "sub": record.user_id,
        "aud": record.resource,
        "iss": deps.config.issuer,
        "exp": record.expires_at,
        "iat": record.created_at,
        "token_type": "refresh_token",
    }


async def _describe(found: Found, deps: Deps) -> dict[str, Any] | None:
    grant = await deps.storage.get_grant(found.grant_id)
    if grant is None or grant.revoked_at is not None or grant.client_id != found.client_id:
        return None
    if isinstance(found, FoundAccessToken):
        return describe_access_token(found)
    return describe_refresh_token(found, deps)


async def introspection_endpoint(
    params: Params, credentials: ClientCredentials, deps: Deps
) -> dict[str, Any]:
    """Authenticate the confidential client, then describe the token or say it is inactive."""
    client = await authenticate_client(credentials, deps)
    if client.is_public:
        raise InvalidClient("introspection requires a confidential client")
    found = await find_token(presented_token(params), deps)
    if found is None:
        return inactive()
    return await _describe(found, deps) or inactive()
