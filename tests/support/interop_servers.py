"""Protected MCP servers built with other people's code, and a tiny authorization server.

``MiniAuthServer`` is the smallest honest OAuth 2.1 authorization server these interop tests
need: RFC 8414 metadata, RFC 7591 registration of public clients, an authorization endpoint
that approves at once (no person) after checking PKCE and ``resource``, and a token endpoint
for ``authorization_code`` and ``refresh_token`` (rotated) that checks the PKCE verifier. It
records what the client sent, so the tests can assert on the wire from the server's side.

Access tokens come from a ``TokenMinter``: ``OpaqueTokens`` keeps them in memory and is
itself the official SDK's ``TokenVerifier``; ``JwtTokens`` signs RS256 JWTs and publishes
their JWKS, for FastMCP's ``JWTVerifier``. Every app runs on a real loopback port under
uvicorn in a thread (``serving``), as httpx's own test server does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth import RemoteAuthProvider
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token
from joserfc import jwt
from joserfc.jwk import RSAKey
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

NO_STORE = {"Cache-Control": "no-store"}


@contextmanager
def serving(app: ASGIApp, port: int) -> Iterator[None]:
    """Run ``app`` under uvicorn on ``127.0.0.1:port`` in a thread until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), f"uvicorn on port {port} did not start"
        assert time.monotonic() < deadline, f"uvicorn on port {port} did not start in 20 s"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=20)


# access tokens


class TokenMinter(Protocol):
    def mint(self, *, client_id: str, scope: str, resource: str, lifetime: int) -> str: ...


@dataclass
class OpaqueTokens:
    """Random access tokens remembered in memory; the official SDK's ``TokenVerifier``."""

    issued: dict[str, AccessToken] = field(default_factory=dict)
    presented: list[str] = field(default_factory=list)  # every token the MCP server was shown

    def mint(self, *, client_id: str, scope: str, resource: str, lifetime: int) -> str:
        token = secrets.token_urlsafe(32)
        self.issued[token] = AccessToken(
            token=token,
            client_id=client_id,
            scopes=scope.split(),
            expires_at=int(time.time()) + lifetime,
            resource=resource,
        )
        return token

    async def verify_token(self, token: str) -> AccessToken | None:
        self.presented.append(token)
        found = self.issued.get(token)
        if found is None or (found.expires_at is not None and found.expires_at <= time.time()):
            return None
        return found


@dataclass
class JwtTokens:
    """RS256 JWT access tokens (RFC 9068 claims) and the JWKS that verifies them."""

    issuer: str
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "interop-1"}))

    def mint(self, *, client_id: str, scope: str, resource: str, lifetime: int) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": resource,
            "sub": "interop-user",
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        header = {"alg": "RS256", "typ": "at+jwt", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["RS256"])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False) | {"use": "sig", "alg": "RS256"}]}


# the authorization server


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    resource: str
    scope: str


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_redirect(registered: str, asked: str) -> bool:
    """Exact match, except any port on a loopback redirect URI (RFC 8252 §7.3)."""
    a, b = urlsplit(registered), urlsplit(asked)
    if a.hostname in ("127.0.0.1", "::1") and a.hostname == b.hostname:
        return (a.scheme, a.path, a.query) == (b.scheme, b.path, b.query)
    return registered == asked


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=NO_STORE)


class MiniAuthServer:
    """Approves every well-formed request at once; grants the scope asked for."""

    def __init__(
        self,
        issuer: str,
        resource: str,
        minter: TokenMinter,
        *,
        scopes: list[str],
        access_lifetime: int = 3600,
        jwks: dict[str, Any] | None = None,
    ) -> None:
        self.issuer, self.resource, self.minter = issuer, resource, minter
        self.base = issuer.rstrip("/")
        self.scopes = scopes
        self.access_lifetime = access_lifetime
        self._jwks = jwks
        self.clients: dict[str, list[str]] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        # what the client sent, in order
        self.registrations: list[dict[str, Any]] = []
        self.authorizations: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.token_responses: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        routes = [
            Route("/.well-known/oauth-authorization-server", self.metadata),
            Route("/register", self.register, methods=["POST"]),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ]
        if self._jwks is not None:
            routes.append(Route("/jwks", self.jwks))
        return Starlette(routes=routes)

    async def metadata(self, request: Request) -> JSONResponse:
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token",
            "registration_endpoint": f"{self.base}/register",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": self.scopes,
            "authorization_response_iss_parameter_supported": True,
        }
        if self._jwks is not None:
            document["jwks_uri"] = f"{self.base}/jwks"
        return JSONResponse(document)

    async def jwks(self, request: Request) -> JSONResponse:
        return JSONResponse(self._jwks)

    async def register(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.registrations.append(body)
        uris = body.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            return oauth_error("invalid_redirect_uri", "redirect_uris must be a list of URIs")
        if body.get("token_endpoint_auth_method", "client_secret_basic") != "none":
            return oauth_error("invalid_client_metadata", "only public clients are supported")
        client_id = "client-" + secrets.token_urlsafe(8)
        self.clients[client_id] = uris
        answer = {
            "client_id": client_id,
            "client_id_issued_at": int(time.time()),
            **body,
            "token_endpoint_auth_method": "none",
        }
        return JSONResponse(answer, status_code=201, headers=NO_STORE)

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorizations.append(query)
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        registered = self.clients.get(client_id)
        if registered is None or not any(same_redirect(r, redirect_uri) for r in registered):
            return oauth_error("invalid_request", "unknown client or redirect_uri")
        problem = self._authorize_problem(query)
        if problem is not None:
            return self._redirect(
                redirect_uri,
                error="invalid_request",
                error_description=problem,
                state=query.get("state"),
            )
        code = secrets.token_urlsafe(24)
        self.codes[code] = Grant(
            client_id=client_id,
            redirect_uri=redirect_uri,
            challenge=query["code_challenge"],
            resource=query["resource"],
            scope=query.get("scope", " ".join(self.scopes)),
        )
        return self._redirect(redirect_uri, code=code, state=query.get("state"), iss=self.issuer)

    def _authorize_problem(self, query: dict[str, str]) -> str | None:
        if query.get("response_type") != "code":
            return "response_type must be code"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "PKCE with S256 is required"
        if query.get("resource") != self.resource:
            return "resource must name the MCP server"
        unknown = set(query.get("scope", "").split()) - set(self.scopes)
        return f"unknown scopes {sorted(unknown)}" if unknown else None

    @staticmethod
    def _redirect(redirect_uri: str, **params: str | None) -> RedirectResponse:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    async def token(self, request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        if form.get("client_id") not in self.clients:
            return oauth_error("invalid_client", "unknown client", 401)
        if form.get("grant_type") == "authorization_code":
            return self._exchange_code(form)
        if form.get("grant_type") == "refresh_token":
            return self._refresh(form)
        return oauth_error("unsupported_grant_type", "authorization_code or refresh_token")

    def _exchange_code(self, form: dict[str, str]) -> JSONResponse:
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None or grant.client_id != form["client_id"]:
            return oauth_error("invalid_grant", "unknown code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return oauth_error("invalid_grant", "redirect_uri differs from the authorization")
        if not hmac.compare_digest(s256(form.get("code_verifier", "")), grant.challenge):
            return oauth_error("invalid_grant", "PKCE verification failed")
        if form.get("resource") != grant.resource:
            return oauth_error("invalid_target", "resource differs from the authorization")
        return self._issue(grant)

    def _refresh(self, form: dict[str, str]) -> JSONResponse:
        grant = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotated
        if grant is None or grant.client_id != form["client_id"]:
            return oauth_error("invalid_grant", "unknown refresh token")
        if form.get("resource") != grant.resource:
            return oauth_error("invalid_target", "resource differs from the grant")
        return self._issue(grant)

    def _issue(self, grant: Grant) -> JSONResponse:
        access = self.minter.mint(
            client_id=grant.client_id,
            scope=grant.scope,
            resource=grant.resource,
            lifetime=self.access_lifetime,
        )
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = grant
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
            "refresh_token": refresh,
            "scope": grant.scope,
        }
        self.token_responses.append(body)
        return JSONResponse(body, headers=NO_STORE)


# the two MCP servers


def sdk_mcp_app(issuer: str, mcp_url: str, verifier: OpaqueTokens, scopes: list[str]) -> ASGIApp:
    """The official SDK's server, protected by its own ``AuthSettings`` and our verifier."""
    # Strings, not AnyHttpUrl(...): AuthSettings keeps a path-less issuer without the trailing
    # slash AnyHttpUrl would add, so the PRM names exactly the issuer the AS metadata states.
    auth = AuthSettings.model_validate(
        {
            "issuer_url": issuer,
            "resource_server_url": mcp_url,
            "required_scopes": scopes,
            "validate_token_resource": True,
        }
    )
    server: MCPServer[Any] = MCPServer("sdk-interop", token_verifier=verifier, auth=auth)

    @server.tool()
    def add(a: int, b: int) -> str:
        """Add two integers."""
        return str(a + b)

    @server.tool()
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    return server.streamable_http_app()


def fastmcp_app(issuer: str, base_url: str, scopes: list[str]) -> ASGIApp:
    """FastMCP with its JWT verifier (JWKS, issuer, audience) behind ``RemoteAuthProvider``."""
    verifier = JWTVerifier(
        jwks_uri=f"{issuer.rstrip('/')}/jwks",
        issuer=issuer,
        audience=f"{base_url}/mcp",
    )
    auth = RemoteAuthProvider(
        token_verifier=verifier,
        authorization_servers=[AnyHttpUrl(issuer)],
        base_url=base_url,
        scopes_supported=scopes,
        # checked by the middleware (403 insufficient_scope naming them), not the verifier
        # (which would answer a token lacking one with 401 invalid_token)
        required_scopes=scopes,
        # named in its 401/403 challenges (RFC 6750 §3); without this FastMCP 4.2.3 asks the
        # JWT verifier, which has no required scopes, and the challenges name none
        challenge_scopes=scopes,
    )
    server = FastMCP("fastmcp-interop", auth=auth)

    @server.tool
    def reverse(text: str) -> str:
        """Reverse the text."""
        return text[::-1]

    @server.tool
    def whoami() -> str:
        """The client and the scopes of the caller's token."""
        token = get_access_token()
        return "anonymous" if token is None else f"{token.client_id} {' '.join(token.scopes)}"

    return server.http_app(path="/mcp")
