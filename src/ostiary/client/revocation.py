"""RFC 7009 revocation for ``ostiary logout``: best effort; the tokens are forgotten anyway."""

from __future__ import annotations

import secrets

import httpx

from ostiary.client.errors import TokenError
from ostiary.client.models import ClientRegistration, ServerMetadata
from ostiary.client.token_requests import client_auth


async def revoke(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    *,
    token: str,
    now: int,
) -> None:
    """Ask ``server`` to revoke ``token``; a refusal is a ``TokenError`` (never naming it)."""
    if server.revocation_endpoint is None:
        return
    fields, headers = client_auth(registration, server, now=now, jti=secrets.token_urlsafe(16))
    answer = await http.post(
        server.revocation_endpoint,
        data={**fields, "token": token},
        headers=headers,
        follow_redirects=False,
    )
    if answer.status_code != 200:
        raise TokenError(f"revocation refused with HTTP {answer.status_code}")
