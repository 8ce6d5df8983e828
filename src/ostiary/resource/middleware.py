"""``ProtectedMCP``: ASGI middleware that turns any MCP ASGI app into an OAuth protected resource.

For every HTTP request it, in order:

1. serves the protected-resource metadata documents itself (``metadata.py``; public, CORS ``*``);
2. refuses a present ``Origin`` that is not allowed (DNS rebinding, REQ-RS-16) with 403, and
   on loopback (or with ``allowed_hosts``) a ``Host`` that is not this server's (``origins.py``);
3. answers a CORS preflight from an allowed ``Origin`` itself (a preflight carries no
   credentials), and lets the browser read every answer to such an origin, refusals
   included (``WWW-Authenticate``, ``Mcp-Session-Id`` exposed);
4. reads a POST body (at most ``max_body`` bytes, else 413) and re-feeds it to the app;
5. finds the bearer token (``credentials.py``; 400 for query, form or doubled credentials);
6. without one: 401 naming the metadata and the scopes the operation needs (or the baseline);
7. verifies it with the injected ``TokenVerifier`` (401 ``invalid_token`` on ``InvalidToken``);
8. classifies the JSON-RPC body against the ``Mcp-Method``/``Mcp-Name`` headers (400 on
   disagreement) and applies the ``ScopePolicy`` (403 ``insufficient_scope``);
9. honours an ``Mcp-Session-Id`` only for the user who opened it (``sessions.py``; else 404);
10. calls the app with the token in ``scope["state"]["ostiary.token"]`` and ``caller``, and
    the JSON-RPC operations it classified in ``scope["state"]["ostiary.operations"]`` (so an
    app that needs them, the gateway's proxy, does not parse the body again).

Lifespan events pass through; WebSocket connections are closed (MCP does not use them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ostiary.core.scopes import format_scope
from ostiary.resource import caller, challenges
from ostiary.resource.challenges import Refusal
from ostiary.resource.credentials import bearer_token
from ostiary.resource.jsonrpc import MalformedRequest, Operation, check_headers, read_operations
from ostiary.resource.metadata import ProtectedResource
from ostiary.resource.origins import allowed_host_set, host_allowed, normalize_origin
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.sessions import DEFAULT_LIMIT, SessionOwners
from ostiary.resource.tokens import InvalidToken, TokenVerifier, VerifiedToken

MAX_BODY = 4 * 1024 * 1024
PRM_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"public, max-age=3600"),
    (b"access-control-allow-origin", b"*"),
]
PREFLIGHT_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, OPTIONS"),
    (b"access-control-allow-headers", b"MCP-Protocol-Version"),
    (b"access-control-max-age", b"600"),
]
# A browser-based client on an allowed origin: what it may send to /mcp, and read back.
MCP_PREFLIGHT = [
    (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, "
        b"Last-Event-ID, Mcp-Method, Mcp-Name",
    ),
    (b"access-control-max-age", b"600"),
    (b"vary", b"Origin"),
]
MCP_EXPOSED = [
    (b"access-control-expose-headers", b"WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version"),
    (b"vary", b"Origin"),
]


OPERATIONS_KEY = "ostiary.operations"
Denied = Callable[[Sequence[Operation], VerifiedToken, Refusal], None]
"""Told of each request a valid token was refused by the policy (403), e.g. to audit it."""


class ClientGone(Exception):
    """The client disconnected while its body was being read."""


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def refuse(send: Send, refusal: Refusal) -> None:
    await respond(send, refusal.status, refusal.headers(), refusal.body())


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or ``None`` beyond ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


# The only headers the checks read; the others are never decoded (this runs on every request).
READ_HEADERS = frozenset(
    {
        b"authorization",
        b"origin",
        b"host",
        b"content-type",
        b"mcp-method",
        b"mcp-name",
        b"mcp-session-id",
        b"access-control-request-method",
    }
)


class _Request:
    """The parts of an HTTP request scope the checks read."""

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.headers: dict[str, list[str]] = {}
        for name, value in scope.get("headers", ()):
            if name in READ_HEADERS:
                self.headers.setdefault(name.decode(), []).append(value.decode("latin-1"))
        self.body = b""
        self.classified: list[Operation] = []  # set by ``ProtectedMCP._authorize``

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None

    def operations(self) -> list[Operation]:
        if self.method != "POST":
            return []
        operations = read_operations(self.body)
        check_headers(operations, self.header("mcp-method"), self.header("mcp-name"))
        return operations


class ProtectedMCP:
    """Wrap ``app``: every request needs a valid token with the scopes the policy demands."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        resource: str,
        authorization_servers: Sequence[str],
        policy: ScopePolicy | None = None,
        resource_name: str = "MCP server",
        allowed_origins: Iterable[str] | None = None,
        allowed_hosts: Iterable[str] | None = None,
        max_body: int = MAX_BODY,
        max_sessions: int = DEFAULT_LIMIT,
        on_denied: Denied | None = None,
    ) -> None:
        self.app = app
        self.on_denied = on_denied
        self.verifier = verifier
        self.policy = policy or ScopePolicy()
        self.resource = ProtectedResource.create(
            resource, authorization_servers, self.policy.scopes_supported, resource_name
        )
        self.documents = self.resource.documents()
        self.metadata_url = self.resource.metadata_url
        origins = (self.resource.origin,) if allowed_origins is None else allowed_origins
        self.allowed_origins = frozenset(normalize_origin(o) for o in origins)
        self.allowed_hosts = allowed_host_set(resource, allowed_hosts)
        self.max_body = max_body
        self.sessions = SessionOwners(max_sessions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admitted = await self._admitted(scope, receive, send)
        if admitted is None:
            return
        # The app is awaited here, not in a helper: each resumption of its coroutine passes
        # through every frame above it, and this runs on every request.
        request, token, receive, send = admitted
        state = {
            **scope.get("state", {}),
            caller.TOKEN_KEY: token,
            OPERATIONS_KEY: request.classified,
        }
        handle = caller.bind(token)
        try:
            await self.app({**scope, "state": state}, receive, self._binding(request, token, send))
        finally:
            caller.unbind(handle)

    async def _admitted(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[_Request, VerifiedToken, Receive, Send] | None:
        """The request, its verified token and the ``receive`` and ``send`` to give the app;
        ``None`` when the request has been answered here (metadata, refusal, preflight)."""
        request = _Request(scope)
        if await self._answered_before_any_token(request, scope, receive, send):
            return None
        origin = request.header("origin")
        if origin is not None:  # an allowed origin: a browser-based client may read the answer
            send = _with_cors(send, origin)
        if request.method == "POST":
            replay = await self._read(request, receive, send)
            if replay is None:
                return None
            receive = replay
        outcome = await self._authenticate(request)
        if not isinstance(outcome, Refusal):
            outcome = self._authorize(request, outcome) or outcome
        if isinstance(outcome, Refusal):
            await refuse(send, outcome)
            return None
        return request, outcome, receive, send

    async def _answered_before_any_token(
        self, request: _Request, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Metadata documents, a foreign ``Origin`` or ``Host``, and CORS preflights."""
        if request.path in self.documents:
            await self._serve_metadata(request, send)
            return True
        untrusted = self._untrusted(request)
        if untrusted is not None:
            await refuse(send, untrusted)
            return True
        if request.method != "OPTIONS" or not request.header("access-control-request-method"):
            return False
        origin = request.header("origin")
        if origin is None:  # not from a browser: the app answers it
            await self.app(scope, receive, send)
        else:
            allow = (b"access-control-allow-origin", origin.encode("latin-1"))
            await respond(send, 204, [allow, *MCP_PREFLIGHT], b"")
        return True

    async def _read(self, request: _Request, receive: Receive, send: Send) -> Receive | None:
        """Read the body into ``request``; the ``receive`` that replays it, or ``None``."""
        try:
            body = await read_body(receive, self.max_body)
        except ClientGone:
            return None
        if body is None:
            await refuse(send, challenges.too_large(self.max_body))
            return None
        request.body = body
        return _replay(body, receive)

    def _untrusted(self, request: _Request) -> Refusal | None:
        """A 403 for a foreign ``Origin`` or ``Host`` (DNS rebinding), before any token."""
        origin = request.header("origin")
        if origin is not None and normalize_origin(origin) not in self.allowed_origins:
            return challenges.forbidden("origin not allowed")
        if not host_allowed(request.header("host"), self.allowed_hosts):
            return challenges.forbidden("host not allowed")
        return None

    async def _serve_metadata(self, request: _Request, send: Send) -> None:
        if request.method == "OPTIONS":
            await respond(send, 204, PREFLIGHT_HEADERS, b"")
        elif request.method in ("GET", "HEAD"):
            body = self.documents[request.path]
            await respond(send, 200, PRM_HEADERS, b"" if request.method == "HEAD" else body)
        else:
            await respond(send, 405, [(b"allow", b"GET, HEAD, OPTIONS")], b"")

    async def _authenticate(self, request: _Request) -> VerifiedToken | Refusal:
        metadata_url = self.metadata_url
        try:
            token = bearer_token(
                request.headers.get("authorization", []),
                request.query,
                request.body,
                request.header("content-type") or "",
            )
        except MalformedRequest as exc:
            return challenges.invalid_request(metadata_url, exc.description)
        if token is None:
            return challenges.missing_token(metadata_url, self._hint(request))
        try:
            return await self.verifier.verify(token)
        except InvalidToken as exc:
            return challenges.invalid_token(metadata_url, exc.description)

    def _authorize(self, request: _Request, verified: VerifiedToken) -> Refusal | None:
        metadata_url = self.metadata_url
        try:
            operations = request.classified = request.operations()
        except MalformedRequest as exc:
            return challenges.invalid_request(metadata_url, exc.description)
        decision = self.policy.decide(operations)
        refusal: Refusal | None = None
        if decision.denied is not None:
            refusal = challenges.forbidden(decision.denied)
        elif missing := self.policy.missing(decision.required, verified.scopes):
            description = f"this operation also needs {format_scope(missing)}"
            scope = self.policy.challenge_scope(decision.required)
            refusal = challenges.insufficient_scope(metadata_url, scope, description)
        if refusal is not None:
            if self.on_denied is not None:
                self.on_denied(operations, verified, refusal)
            return refusal
        session_id = request.header("mcp-session-id")
        if session_id is not None and not self.sessions.owned_by(session_id, _owner(verified)):
            return challenges.not_found("session not found")
        return None

    def _hint(self, request: _Request) -> str:
        """The scopes a tokenless request should come back with."""
        try:
            required = self.policy.decide(request.operations()).required
        except MalformedRequest:
            required = frozenset()
        return self.policy.challenge_scope(required)

    def _binding(self, request: _Request, token: VerifiedToken, send: Send) -> Send:
        """``send`` that binds a session the app opens to ``token``'s user, and ends it."""
        requested = request.header("mcp-session-id")

        async def send_and_bind(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"mcp-session-id" and status < 400:
                        self.sessions.bind(value.decode("latin-1"), _owner(token))
                if request.method == "DELETE" and requested is not None and status < 300:
                    self.sessions.forget(requested)
            await send(message)

        return send_and_bind


def _owner(token: VerifiedToken) -> tuple[str, str]:
    return (token.issuer, token.subject)


def _with_cors(send: Send, origin: str) -> Send:
    """``send`` that lets the browser at ``origin`` read the answer and its MCP headers."""
    headers = [(b"access-control-allow-origin", origin.encode("latin-1")), *MCP_EXPOSED]

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *headers]}
        await send(message)

    return send_with_cors


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives the already-read body first, then the real stream's events."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
