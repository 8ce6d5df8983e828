"""The authorization code grant at the token endpoint (OAuth 2.1 §4.1.3, RFC 7636 §4.6)."""

from __future__ import annotations

from ostiary.core.deps import Deps
from ostiary.core.errors import InvalidGrant, InvalidTarget, OAuthError
from ostiary.core.grants.issuance import issue_tokens
from ostiary.core.models import AuthorizationCode, Client
from ostiary.core.params import Params, optional, repeated, required
from ostiary.core.pkce import verify_code_verifier
from ostiary.core.redirect_uris import find_redirect_uri
from ostiary.core.resources import normalize_resource
from ostiary.core.responses import TokenResponse


async def _refused(
    record: AuthorizationCode | None, client: Client, reason: str, deps: Deps
) -> None:
    """Audit a failed redemption (``reason`` is ours or an error description: no secret)."""
    await deps.events.emit(
        "code_redeemed",
        "failure",
        user_id=record.user_id if record else None,
        client_id=client.client_id,
        grant_id=record.grant_id if record else None,
        detail=reason,
    )


async def _replayed(record: AuthorizationCode, deps: Deps) -> InvalidGrant:
    """A replay, or the user took the grant back meanwhile: revoke the grant, audit it."""
    revoked = await deps.storage.revoke_grant(record.grant_id, deps.clock.now())
    await deps.events.emit(
        "code_replay",
        "failure",
        user_id=record.user_id,
        client_id=record.client_id,
        grant_id=record.grant_id,
        detail="grant revoked" if revoked else "grant was already revoked",
    )
    return InvalidGrant("authorization code was already used or revoked")


async def redeem_code(code: str, client: Client, deps: Deps) -> AuthorizationCode:
    """Consume the code; a second redemption revokes everything issued from it (§4.1.3)."""
    consumed = await deps.storage.consume_authorization_code(
        deps.hasher.hash(code), deps.clock.now()
    )
    if consumed is None:
        await _refused(None, client, "unknown code", deps)
        raise InvalidGrant("authorization code is invalid")
    record, first_use = consumed
    if not first_use:
        raise await _replayed(record, deps)
    if record.client_id != client.client_id:
        await _refused(record, client, "code issued to another client", deps)
        raise InvalidGrant("authorization code is invalid")  # as if it did not exist
    if record.expires_at <= deps.clock.now():
        await _refused(record, client, "code expired", deps)
        raise InvalidGrant("authorization code has expired")
    return record


def check_code_redirect_uri(record: AuthorizationCode, given: str | None, client: Client) -> None:
    """The redirect URI must be the one the authorization request used, if it named one."""
    if record.redirect_uri and given != record.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    if (
        not record.redirect_uri
        and given is not None
        and not find_redirect_uri(given, client.redirect_uris)
    ):
        raise InvalidGrant("redirect_uri does not match the authorization request")


def check_code_resource(record: AuthorizationCode, requested: list[str]) -> None:
    if any(normalize_resource(r) != record.resource for r in requested):
        raise InvalidTarget("resource differs from the authorization request")


async def exchange_authorization_code(params: Params, client: Client, deps: Deps) -> TokenResponse:
    """Validate the code and its bindings, then issue the token pair."""
    record = await redeem_code(required(params, "code"), client, deps)
    try:
        check_code_redirect_uri(record, optional(params, "redirect_uri"), client)
        verify_code_verifier(optional(params, "code_verifier"), record.code_challenge)
        check_code_resource(record, repeated(params, "resource"))
    except OAuthError as exc:
        await _refused(record, client, f"{exc.error}: {exc.description or ''}", deps)
        raise
    issued = issue_tokens(
        client,
        user_id=record.user_id,
        grant_id=record.grant_id,
        granted=record.scopes,
        resource=record.resource,
        deps=deps,
    )
    if issued.refresh_record is not None:
        await deps.storage.save_refresh_token(issued.refresh_record)
    await deps.events.emit(
        "code_redeemed",
        "success",
        user_id=record.user_id,
        client_id=client.client_id,
        grant_id=record.grant_id,
    )
    return issued.response
