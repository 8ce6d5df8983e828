"""The authorization code grant at the token endpoint (OAuth 2.1 §4.1.3, RFC 7636 §4.6)."""

from __future__ import annotations

from ostiary.core.deps import Deps
from ostiary.core.errors import InvalidGrant, InvalidTarget
from ostiary.core.grants.issuance import issue_tokens
from ostiary.core.models import AuthorizationCode, Client
from ostiary.core.params import Params, optional, repeated, required
from ostiary.core.pkce import verify_code_verifier
from ostiary.core.redirect_uris import find_redirect_uri
from ostiary.core.resources import normalize_resource
from ostiary.core.responses import TokenResponse


async def redeem_code(code: str, client: Client, deps: Deps) -> AuthorizationCode:
    """Consume the code; a second redemption revokes everything issued from it (§4.1.3)."""
    consumed = await deps.storage.consume_authorization_code(
        deps.hasher.hash(code), deps.clock.now()
    )
    if consumed is None:
        raise InvalidGrant("authorization code is invalid")
    record, first_use = consumed
    if not first_use:  # a replay, or the user took the grant back meanwhile
        await deps.storage.revoke_grant(record.grant_id, deps.clock.now())
        raise InvalidGrant("authorization code was already used or revoked")
    if record.client_id != client.client_id:
        raise InvalidGrant("authorization code is invalid")  # as if it did not exist
    if record.expires_at <= deps.clock.now():
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
    check_code_redirect_uri(record, optional(params, "redirect_uri"), client)
    verify_code_verifier(optional(params, "code_verifier"), record.code_challenge)
    check_code_resource(record, repeated(params, "resource"))
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
    return issued.response
