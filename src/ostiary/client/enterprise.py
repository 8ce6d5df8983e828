"""Enterprise-managed authorization (SEP-990, "cross-app access"): tokens without a browser.

The person already signed in to their company's identity provider; the client holds that
sign-in's ID token. It trades it at the identity provider for an identity assertion
authorization grant (ID-JAG, RFC 8693 token exchange), then presents the ID-JAG to the MCP
server's authorization server (RFC 7523 jwt-bearer grant) for an access token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ostiary.client.errors import TokenError
from ostiary.client.models import ClientRegistration, ServerMetadata, TokenSet


@dataclass(frozen=True, slots=True)
class IdentityAssertion:
    """What the identity provider needs: its token endpoint, this client there, the ID token."""

    idp_token_endpoint: str
    idp_client_id: str
    id_token: str = field(repr=False)
    idp_client_secret: str | None = field(default=None, repr=False)
    idp_issuer: str | None = None


async def enterprise_tokens(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    assertion: IdentityAssertion,
    *,
    resource: str,
    scope: str | None,
    now: int,
) -> TokenSet:
    """Exchange the ID token for an ID-JAG, then the ID-JAG for an access token."""
    raise TokenError("enterprise-managed authorization is not implemented yet")
