"""The refresh token grant (OAuth 2.1 §4.3): rotation, reuse detection and a retry grace window.

Every use rotates the token. Presenting a rotated token again revokes the whole grant
(OAuth 2.1 §4.3.1), except within ``refresh_grace`` seconds of its rotation: then the same
successor pair is returned, so a lost response or two racing refreshes never log a user out.
That successor is sealed under a key derived from the presented token, so only its holder
can read it back, and the database alone never holds it in usable form.
"""

from __future__ import annotations

import json

from ostiary.core.deps import Deps
from ostiary.core.errors import InvalidGrant, InvalidTarget, UnauthorizedClient
from ostiary.core.grants.issuance import issue_tokens
from ostiary.core.models import Client, RefreshToken
from ostiary.core.params import Params, optional, repeated, required
from ostiary.core.resources import normalize_resource
from ostiary.core.responses import TokenResponse
from ostiary.core.scopes import check_scopes, parse_scope


def _retry_response(token: str, record: RefreshToken, deps: Deps) -> TokenResponse | None:
    """The sealed successor, if ``record`` was rotated within the grace window (0: none)."""
    now = deps.clock.now()
    if record.rotated_at is None or record.successor is None or deps.config.refresh_grace <= 0:
        return None
    if now - record.rotated_at > deps.config.refresh_grace:
        return None
    body = json.loads(deps.sealer.unseal(token, record.successor))
    body["expires_in"] = max(0, int(body["expires_in"]) - (now - record.rotated_at))
    return TokenResponse(**body)


async def _emit(
    event: str,
    outcome: str,
    record: RefreshToken | None,
    client: Client,
    detail: str,
    *,
    deps: Deps,
) -> None:
    await deps.events.emit(
        event,
        outcome,
        user_id=record.user_id if record else None,
        client_id=client.client_id,
        grant_id=record.grant_id if record else None,
        detail=detail,
    )


async def _reuse(token: str, record: RefreshToken, client: Client, deps: Deps) -> TokenResponse:
    retry = _retry_response(token, record, deps)
    if retry is not None:
        await _emit("token_refreshed", "success", record, client, "retry within grace", deps=deps)
        return retry
    revoked = await deps.storage.revoke_grant(record.grant_id, deps.clock.now())
    detail = "grant revoked" if revoked else "grant was already revoked"
    await _emit("refresh_reuse", "failure", record, client, detail, deps=deps)
    raise InvalidGrant("refresh token was already used; the grant is revoked")


def _check_request(params: Params, record: RefreshToken) -> frozenset[str]:
    """Scope and resource may only narrow (RFC 6749 §6, RFC 8707 §2.2)."""
    if any(normalize_resource(r) != record.resource for r in repeated(params, "resource")):
        raise InvalidTarget("resource differs from the original grant")
    requested = parse_scope(optional(params, "scope"))
    return check_scopes(requested, record.scopes) if requested else record.scopes


async def refresh_access_token(params: Params, client: Client, deps: Deps) -> TokenResponse:
    """Rotate the refresh token and issue a new pair."""
    token = required(params, "refresh_token")
    token_hash = deps.hasher.hash(token)
    record = await deps.storage.get_refresh_token(token_hash)
    if record is None or record.client_id != client.client_id:
        await _emit(
            "token_refreshed", "failure", None, client, "unknown or revoked token", deps=deps
        )
        raise InvalidGrant("refresh token is invalid")
    if record.rotated_at is not None:
        return await _reuse(token, record, client, deps)
    now = deps.clock.now()
    if record.expires_at <= now:
        await _emit("token_refreshed", "failure", record, client, "token expired", deps=deps)
        raise InvalidGrant("refresh token has expired")
    scopes = _check_request(params, record)
    issued = issue_tokens(
        client,
        user_id=record.user_id,
        grant_id=record.grant_id,
        granted=record.scopes,
        resource=record.resource,
        deps=deps,
        access_scopes=scopes,
    )
    if issued.refresh_record is None:
        raise UnauthorizedClient("client may not use the refresh token grant")
    sealed = deps.sealer.seal(token, json.dumps(issued.response.to_json()).encode())
    if await deps.storage.rotate_refresh_token(token_hash, issued.refresh_record, sealed, now):
        await _emit("token_refreshed", "success", record, client, "", deps=deps)  # one insert
        return issued.response
    # Lost a race with another use of the same token: read what the winner left.
    lost = await deps.storage.get_refresh_token(token_hash)
    if lost is None or lost.rotated_at is None:
        await _emit("token_refreshed", "failure", record, client, "grant revoked", deps=deps)
        raise InvalidGrant("refresh token is invalid")
    return await _reuse(token, lost, client, deps)
