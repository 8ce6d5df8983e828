"""The revocation endpoint (RFC 7009): a client ends the grant behind one of its tokens.

Revoking either kind of token revokes its whole grant (RFC 7009 §2.1 allows it for refresh
tokens and asks for it when the token is an access token's refresh token). Access tokens are
self-contained JWTs and we keep no state per access token, so revoking one can only be done
by revoking its grant: the refresh token and every access token of the grant stop being
active at introspection, and the refresh grant fails. A resource server that verifies JWTs
locally still accepts the access token until it expires; the token lifetime bounds that.

The answer is the same empty 200 whether or not anything was revoked: unknown, expired,
already revoked, and other clients' tokens are all answered alike (RFC 7009 §2.2), and a
token issued to another client is left alone (§2.1).
"""

from __future__ import annotations

from ostiary.core.client_auth import ClientCredentials, authenticate_client
from ostiary.core.deps import Deps
from ostiary.core.params import Params
from ostiary.core.presented import find_token, presented_token


async def revocation_endpoint(params: Params, credentials: ClientCredentials, deps: Deps) -> None:
    """Authenticate the client (public clients by ``client_id``) and revoke the token's grant."""
    client = await authenticate_client(credentials, deps)
    found = await find_token(presented_token(params), deps)
    if found is None or found.client_id != client.client_id:
        return
    if not await deps.storage.revoke_grant(found.grant_id, deps.clock.now()):
        return
    await deps.events.emit(
        "token_revoked",
        "success",
        user_id=found.user_id,
        client_id=client.client_id,
        grant_id=found.grant_id,
        detail=found.kind.value,
    )
