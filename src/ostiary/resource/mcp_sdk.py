"""Glue for the official ``mcp`` SDK: its ``TokenVerifier`` hook, and the caller inside a tool.

``SdkTokenVerifier`` wraps any Ostiary ``TokenVerifier`` (local, JWKS, introspection) as the
SDK's own ``TokenVerifier``, for servers that use ``MCPServer(token_verifier=..., auth=...)``
instead of the ``ProtectedMCP`` middleware::

    verifier = SdkTokenVerifier(JwksVerifier(issuer, resource))
    server = MCPServer("notes", token_verifier=verifier, auth=AuthSettings(...))

``caller(ctx)`` returns the ``VerifiedToken`` that ``ProtectedMCP`` attached to the HTTP request
a tool is running for (the SDK runs tools in session tasks, where the context variable of
``ostiary.resource.caller`` is not set, so the request's ASGI scope is the reliable carrier).
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.provider import AccessToken

from ostiary.resource.caller import TOKEN_KEY, current_token
from ostiary.resource.tokens import InvalidToken, TokenVerifier, VerifiedToken


class SdkTokenVerifier:
    """The SDK's ``TokenVerifier`` protocol over an Ostiary verifier (``None`` when invalid)."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            verified = await self.verifier.verify(token)
        except InvalidToken:
            return None
        return access_token(token, verified)


def access_token(token: str, verified: VerifiedToken) -> AccessToken:
    """The SDK's ``AccessToken`` for a verified Ostiary token."""
    return AccessToken(
        token=token,
        client_id=verified.client_id,
        scopes=sorted(verified.scopes),
        expires_at=verified.expires_at,
        resource=verified.audience[0] if verified.audience else None,
        subject=verified.subject,
        claims={**verified.claims, "iss": verified.issuer},
    )


def caller(ctx: Any) -> VerifiedToken:
    """The caller of the tool, resource or prompt ``ctx`` (an SDK ``Context``) is serving.

    ``LookupError`` when the request did not pass through ``ProtectedMCP``.
    """
    try:
        request = ctx.request_context.request
    except (AttributeError, ValueError):
        request = None
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        token = scope.get("state", {}).get(TOKEN_KEY)
        if isinstance(token, VerifiedToken):
            return token
    token = current_token()
    if token is None:
        raise LookupError("no verified token: not inside a protected request")
    return token
