"""The token endpoint (OAuth 2.1 §3.2): grant dispatch after client authentication."""

from __future__ import annotations

from collections.abc import Mapping

from ostiary.core.client_auth import ClientCredentials, authenticate_client
from ostiary.core.client_usage import note_client_use
from ostiary.core.deps import Deps
from ostiary.core.errors import UnauthorizedClient, UnsupportedGrantType
from ostiary.core.grants.authorization_code import exchange_authorization_code
from ostiary.core.grants.base import GrantHandler
from ostiary.core.grants.client_credentials import client_credentials_grant
from ostiary.core.grants.refresh_token import refresh_access_token
from ostiary.core.models import GrantType
from ostiary.core.params import Params, required
from ostiary.core.responses import TokenResponse

DEFAULT_GRANTS: Mapping[GrantType, GrantHandler] = {
    GrantType.AUTHORIZATION_CODE: exchange_authorization_code,
    GrantType.REFRESH_TOKEN: refresh_access_token,
    GrantType.CLIENT_CREDENTIALS: client_credentials_grant,
}
# Grants that issue tokens on the client alone: their client is read from the store, never
# from the token endpoint's client cache (see ``core.client_cache``).
STORE_AUTHENTICATED: frozenset[GrantType] = frozenset({GrantType.CLIENT_CREDENTIALS})


async def token_endpoint(
    params: Params,
    credentials: ClientCredentials,
    deps: Deps,
    grants: Mapping[GrantType, GrantHandler] = DEFAULT_GRANTS,
) -> TokenResponse:
    """Authenticate the client, check it may use the grant type, and run the grant."""
    grant_type = required(params, "grant_type")
    handler = next((h for g, h in grants.items() if g.value == grant_type), None)
    if handler is None:
        raise UnsupportedGrantType(f"grant_type {grant_type} is not supported")
    source = deps.storage if GrantType(grant_type) in STORE_AUTHENTICATED else None
    client = await authenticate_client(credentials, deps, source=source)
    await note_client_use(client, deps)
    if GrantType(grant_type) not in client.grant_types:
        raise UnauthorizedClient(f"client may not use the {grant_type} grant")
    return await handler(params, client, deps)
