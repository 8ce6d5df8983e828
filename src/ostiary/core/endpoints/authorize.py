"""The authorization endpoint (OAuth 2.1 §4.1.1-4.1.2, RFC 7636, RFC 8707, RFC 9207).

``validate_authorization_request`` runs the checks in order. Until the client and redirect
URI are verified, failures raise ``UnsafeRedirectError`` (an error page, never a redirect);
after that they raise ``RedirectError`` so the client learns of them at its redirect URI.
"""

from __future__ import annotations

from dataclasses import dataclass

from ostiary.core.deps import Deps
from ostiary.core.errors import (
    AccessDenied,
    InvalidRequest,
    OAuthError,
    RedirectError,
    UnauthorizedClient,
    UnsafeRedirectError,
    UnsupportedResponseType,
)
from ostiary.core.models import (
    AuthorizationCode,
    Client,
    ClientId,
    Grant,
    GrantId,
    GrantType,
    UserId,
)
from ostiary.core.params import MAX_PARAM_LENGTH, Params, optional, repeated, required
from ostiary.core.pkce import check_code_challenge
from ostiary.core.redirect_uris import find_redirect_uri
from ostiary.core.resources import select_resource
from ostiary.core.responses import redirect_url
from ostiary.core.scopes import check_scopes, format_scope, parse_scope


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request, ready for login and consent."""

    client: Client
    redirect_uri: str
    redirect_uri_given: bool
    state: str | None
    code_challenge: str
    scopes: frozenset[str]
    resource: str


async def check_client(params: Params, deps: Deps) -> Client:
    try:
        client_id = required(params, "client_id")
    except OAuthError as exc:
        raise UnsafeRedirectError(exc) from None
    try:
        client = await deps.clients(deps.storage).get_client(ClientId(client_id))
    except OAuthError as exc:  # a metadata document that could not be used: never redirect
        raise UnsafeRedirectError(exc) from None
    if client is None:
        raise UnsafeRedirectError(InvalidRequest("unknown client_id"))
    return client


def check_redirect_uri(params: Params, client: Client) -> tuple[str, bool]:
    """Exact match, any port on loopback; may be omitted only with one registered URI."""
    try:
        requested = optional(params, "redirect_uri")
    except OAuthError as exc:
        raise UnsafeRedirectError(exc) from None
    if requested is None:
        if len(client.redirect_uris) != 1:
            raise UnsafeRedirectError(InvalidRequest("redirect_uri is required"))
        return client.redirect_uris[0], False
    if not find_redirect_uri(requested, client.redirect_uris):
        raise UnsafeRedirectError(InvalidRequest("redirect_uri is not registered for this client"))
    return requested, True


def check_response_type(params: Params, client: Client) -> None:
    response_type = required(params, "response_type")
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    if GrantType.AUTHORIZATION_CODE not in client.grant_types:
        raise UnauthorizedClient("client may not use the authorization code grant")


def check_scope(params: Params, client: Client, deps: Deps) -> frozenset[str]:
    """Requested scopes must be supported and allowed; none requested means all allowed."""
    allowed = frozenset(deps.config.scopes_supported)
    if client.scope is not None:
        allowed &= client.scope
    requested = parse_scope(optional(params, "scope"))
    return check_scopes(requested, allowed) if requested else allowed


async def validate_authorization_request(params: Params, deps: Deps) -> AuthorizationRequest:
    """Validate every parameter of an authorization request, in the order RFC 6749 implies."""
    client = await check_client(params, deps)
    redirect_uri, given = check_redirect_uri(params, client)
    state_values = params.get("state", ())
    single = len(state_values) == 1 and len(state_values[0]) <= MAX_PARAM_LENGTH
    state = state_values[0] if single else None  # never echo a repeated or oversized value
    try:
        if len(state_values) > 1:
            raise InvalidRequest("state is repeated")
        if state_values and not single:
            raise InvalidRequest("state is too long")
        check_response_type(params, client)
        challenge = check_code_challenge(
            optional(params, "code_challenge"), optional(params, "code_challenge_method")
        )
        scopes = check_scope(params, client, deps)
        resource = select_resource(
            repeated(params, "resource"), deps.config.resources, deps.config.default_resource
        )
    except OAuthError as exc:
        raise RedirectError(exc, redirect_uri, state) from None
    return AuthorizationRequest(client, redirect_uri, given, state, challenge, scopes, resource)


def error_redirect(error: RedirectError, issuer: str) -> str:
    """The redirect URL carrying an error, ``state`` and ``iss`` (RFC 9207 §2)."""
    return redirect_url(
        error.redirect_uri,
        {
            "error": error.error.error,
            "error_description": error.error.description,
            "state": error.state,
            "iss": issuer,
        },
    )


def deny(request: AuthorizationRequest, issuer: str) -> str:
    """The user refused: ``access_denied`` at the client's redirect URI."""
    refused = RedirectError(
        AccessDenied("the user denied the request"), request.redirect_uri, request.state
    )
    return error_redirect(refused, issuer)


async def issue_authorization_code(
    request: AuthorizationRequest, user_id: UserId, scopes: frozenset[str], deps: Deps
) -> str:
    """Create the grant and its single-use code; return the success redirect URL."""
    now = deps.clock.now()
    grant = Grant(
        grant_id=GrantId(deps.new_id()),
        user_id=user_id,
        client_id=request.client.client_id,
        scopes=scopes,
        resource=request.resource,
        created_at=now,
    )
    code = deps.new_token()
    await deps.storage.save_grant(grant)
    await deps.storage.save_authorization_code(
        AuthorizationCode(
            code_hash=deps.hasher.hash(code),
            grant_id=grant.grant_id,
            client_id=request.client.client_id,
            user_id=user_id,
            redirect_uri=request.redirect_uri if request.redirect_uri_given else "",
            code_challenge=request.code_challenge,
            resource=request.resource,
            scopes=scopes,
            expires_at=now + deps.config.code_ttl,
            created_at=now,
        )
    )
    await deps.events.emit(
        "code_issued",
        "success",
        user_id=user_id,
        client_id=request.client.client_id,
        grant_id=grant.grant_id,
        detail=f"scopes={format_scope(scopes)}",
    )
    return redirect_url(
        request.redirect_uri, {"code": code, "state": request.state, "iss": deps.config.issuer}
    )
