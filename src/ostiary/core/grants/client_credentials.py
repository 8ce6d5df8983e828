"""The client credentials grant (OAuth 2.1 §4.2): a confidential client acting for itself.

There is no user. The access token's ``sub`` is the client id (RFC 9068 §2.2: an identifier
the server uses for the client), and no refresh token is issued (OAuth 2.1 §4.2.3: the client
can always authenticate again).

Each issuance creates its own ``Grant``, with ``user_id`` equal to the client id (so the
grant and the token's ``sub`` say the same thing, and ``Grant.user_id == Grant.client_id``
tells a client-credentials grant apart; generated user ids never equal a client id). The
token carries that grant's id as ``gid``, so revoking the token (RFC 7009) or the client
revokes exactly that issuance, and introspection reports it inactive. Removing the client
revokes all of them.

The client must have been authenticated against the store, never the token endpoint's
short-lived client cache (see ``core.client_cache``): nothing else stands between a removed
or re-keyed client and a fresh token. ``core.endpoints.token`` arranges that.
"""

from __future__ import annotations

from ostiary.core.deps import Deps
from ostiary.core.errors import UnauthorizedClient
from ostiary.core.grants.issuance import sign_access_token
from ostiary.core.models import Client, Grant, GrantId, UserId
from ostiary.core.params import Params, optional, repeated
from ostiary.core.resources import select_resource
from ostiary.core.responses import TokenResponse
from ostiary.core.scopes import check_scopes, format_scope, parse_scope


def client_subject(client: Client) -> UserId:
    """The ``user_id`` of a client-credentials grant and the ``sub`` of its tokens."""
    return UserId(client.client_id)


def is_client_grant(grant: Grant) -> bool:
    """True for a grant a client made for itself (no user behind it)."""
    return str(grant.user_id) == str(grant.client_id)


def requested_scopes(params: Params, client: Client, deps: Deps) -> frozenset[str]:
    """The requested scopes, each allowed to the client; none requested means all allowed."""
    allowed = frozenset(deps.config.scopes_supported)
    if client.scope is not None:
        allowed &= client.scope
    requested = parse_scope(optional(params, "scope"))
    return check_scopes(requested, allowed) if requested else allowed


async def client_credentials_grant(params: Params, client: Client, deps: Deps) -> TokenResponse:
    """Issue an access token, and only an access token, to an authenticated confidential client."""
    if client.is_public:
        raise UnauthorizedClient("a public client may not use the client credentials grant")
    scopes = requested_scopes(params, client, deps)
    resource = select_resource(
        repeated(params, "resource"), deps.config.resources, deps.config.default_resource
    )
    now = deps.clock.now()
    grant = Grant(
        grant_id=GrantId(deps.new_id()),
        user_id=client_subject(client),
        client_id=client.client_id,
        scopes=scopes,
        resource=resource,
        created_at=now,
    )
    await deps.storage.save_grant(grant)
    access = sign_access_token(
        client,
        user_id=grant.user_id,
        grant_id=grant.grant_id,
        scopes=scopes,
        resource=resource,
        deps=deps,
    )
    await deps.events.emit(
        "client_token_issued",
        "success",
        client_id=client.client_id,
        grant_id=grant.grant_id,
        detail=format_scope(scopes),
    )
    return TokenResponse(
        access_token=access, expires_in=deps.config.access_token_ttl, scope=format_scope(scopes)
    )
