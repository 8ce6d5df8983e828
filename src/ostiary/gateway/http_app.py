"""The MCP endpoint of an HTTP upstream: a reverse proxy behind ``ProtectedMCP``.

Requests go to the upstream as they came, minus what belongs to this hop: the client's
``Authorization`` (never passed on, REQ-RS-13), cookies, hop-by-hop headers and ``Host``. The
operator's headers for the upstream (optionally per user) are added instead. Responses come
back as they are, streams included (an SSE stream is relayed chunk by chunk and closed when
the client goes away), except a ``tools/list`` answer when the policy hides tools the caller
may not call. The upstream's ``Mcp-Session-Id`` passes through, and ``ProtectedMCP`` binds it
to the user who opened it.

The hop is an ``httpx2`` client (the HTTP client the official MCP SDK itself depends on) over
``UpstreamTransport`` (``upstream_transport.py``: HTTP/1.1 keep-alive with h11, a fraction of
httpcore's CPU per call, ``bench/gateway.py``). Its one client keeps no cookies, since it
serves every user.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import anyio
import httpx2
from starlette.types import Message, Receive, Scope, Send

from ostiary.gateway.call_audit import CallAudit, CallRecord
from ostiary.gateway.messages import error_response
from ostiary.gateway.pool import UserName, subject_name
from ostiary.gateway.tool_filter import ToolFilter
from ostiary.gateway.upstream_transport import UpstreamTransport
from ostiary.resource import challenges
from ostiary.resource.caller import TOKEN_KEY
from ostiary.resource.jsonrpc import Operation
from ostiary.resource.middleware import (
    MAX_BODY,
    OPERATIONS_KEY,
    ClientGone,
    read_body,
    refuse,
    respond,
)
from ostiary.resource.tokens import VerifiedToken

log = logging.getLogger("ostiary.gateway")

NOT_FORWARDED = frozenset(
    {
        b"authorization",
        b"proxy-authorization",
        b"cookie",
        b"host",
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"accept-encoding",
    }
)
NOT_RETURNED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "set-cookie",
        "trailer",
    }
)
JSON = [(b"content-type", b"application/json")]
TIMEOUT = httpx2.Timeout(connect=10.0, read=None, write=30.0, pool=30.0)


def no_cookies() -> CookieJar:
    """A jar that keeps nothing: the one client serves every user, so a cookie the upstream
    sets for one must never ride along on another's request."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _calls(operations: list[Operation]) -> list[Operation]:
    return [op for op in operations if op.method and not op.method.startswith("notifications/")]


def filter_sse(body: bytes, token: VerifiedToken | None, tools: ToolFilter) -> bytes:
    """Each ``data:`` line holding a ``tools/list`` result, filtered; the rest unchanged."""
    lines = body.decode("utf-8").split("\n")
    for index, line in enumerate(lines):
        if line.startswith("data:"):
            try:
                message = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(message, dict) and "result" in message:
                filtered = tools.filter_response(message, token)
                lines[index] = "data: " + json.dumps(filtered, separators=(",", ":"))
    return "\n".join(lines).encode()


class HttpGateway:
    """ASGI app: forwards every request to ``upstream`` (an MCP endpoint URL)."""

    def __init__(
        self,
        upstream: str,
        *,
        headers: Mapping[str, str] | None = None,
        user_headers: Mapping[str, Mapping[str, str]] | None = None,
        user_name: UserName = subject_name,
        tool_filter: ToolFilter | None = None,
        audit: CallAudit | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.upstream = upstream
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.user_headers = {
            user: [(k.lower().encode(), v.encode()) for k, v in values.items()]
            for user, values in (user_headers or {}).items()
        }
        self._user_name = user_name
        self.tool_filter = tool_filter
        self.audit = audit
        self._transport = transport
        self.client: httpx2.AsyncClient | None = None

    def _open_client(self) -> httpx2.AsyncClient:
        transport = self._transport or UpstreamTransport(httpx2.create_ssl_context())
        return httpx2.AsyncClient(
            timeout=TIMEOUT,
            transport=transport,
            cookies=no_cookies(),
            trust_env=False,  # no proxy, no ~/.netrc credentials from the environment
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _outgoing_headers(self, scope: Scope, token: VerifiedToken | None) -> list[Any]:
        mine = {name for name, _ in self.headers}
        extra = list(self.headers)
        if token is not None and self.user_headers:
            personal = self.user_headers.get(await self._user_name(token), [])
            mine |= {name for name, _ in personal}
            extra = [h for h in extra if h[0] not in {n for n, _ in personal}] + personal
        kept = [
            (name, value)
            for name, value in scope["headers"]
            if name not in NOT_FORWARDED and name not in mine
        ]
        return [*kept, (b"accept-encoding", b"identity"), *extra]

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = scope.get("state", {}).get(TOKEN_KEY)
        token = token if isinstance(token, VerifiedToken) else None
        try:
            body = await read_body(receive, MAX_BODY)  # ProtectedMCP replays what it read
        except ClientGone:
            return
        if body is None:
            await refuse(send, challenges.too_large(MAX_BODY))
            return
        calls = _calls(scope.get("state", {}).get(OPERATIONS_KEY, []))
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + (f"?{query}" if query else "")
        client = self.client
        if client is None:  # outside a lifespan (an app server without one): open lazily
            client = self.client = self._open_client()
        request = client.build_request(
            scope["method"], url, headers=await self._outgoing_headers(scope, token), content=body
        )
        started = time.perf_counter()
        try:
            response = await client.send(request, stream=True)
        except httpx2.HTTPError as exc:
            log.warning("upstream %s: %s", self.upstream, exc)
            self._audit(
                calls, token, started, "error", f"upstream unreachable: {type(exc).__name__}"
            )
            answer = error_response(None, "upstream unreachable")
            await _respond(send, 502, JSON, json.dumps(answer).encode())
            return
        try:
            await self._relay(response, calls, token, receive, send)
        finally:
            await response.aclose()
            outcome = "ok" if response.status_code < 400 else "error"
            error = "" if outcome == "ok" else f"HTTP {response.status_code}"
            self._audit(calls, token, started, outcome, error)

    async def _relay(
        self,
        response: httpx2.Response,
        calls: list[Operation],
        token: VerifiedToken | None,
        receive: Receive,
        send: Send,
    ) -> None:
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.multi_items()
            if name.lower() not in NOT_RETURNED
        ]
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        filtering = self.tool_filter is not None and any(op.method == "tools/list" for op in calls)
        if streaming and not filtering:
            await _stream(response, response.status_code, headers, receive, send)
            return
        data = await response.aread()
        if filtering and response.status_code == 200 and self.tool_filter is not None:
            data = self._filtered(data, streaming, token, self.tool_filter)
        await _respond(send, response.status_code, headers, data)

    @staticmethod
    def _filtered(
        data: bytes, streaming: bool, token: VerifiedToken | None, tools: ToolFilter
    ) -> bytes:
        if streaming:
            return filter_sse(data, token, tools)
        try:
            message = json.loads(data)
        except ValueError:
            return data
        if isinstance(message, dict):
            return json.dumps(tools.filter_response(message, token)).encode()
        return data

    def _audit(
        self,
        calls: list[Operation],
        token: VerifiedToken | None,
        started: float,
        outcome: str,
        error: str,
    ) -> None:
        if self.audit is None:
            return
        latency = (time.perf_counter() - started) * 1000
        for op in calls:
            self.audit.record(
                CallRecord(token, op.method or "-", op.target, "allowed", outcome, latency, error)
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self.client = self._open_client()
        async with anyio.create_task_group() as tasks:
            if self.audit is not None:
                tasks.start_soon(self.audit.run)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            tasks.cancel_scope.cancel()
        await self.client.aclose()
        if self.audit is not None:
            await self.audit.flush()
        await send({"type": "lifespan.shutdown.complete"})


async def _respond(send: Send, status: int, headers: list[Any], body: bytes) -> None:
    """A whole answer, with its length."""
    await respond(send, status, [*headers, (b"content-length", str(len(body)).encode())], body)


async def _stream(
    response: httpx2.Response, status: int, headers: list[Any], receive: Receive, send: Send
) -> None:
    """Relay chunk by chunk; stop (and close the upstream stream) when the client leaves."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    async with anyio.create_task_group() as tasks:

        async def watch() -> None:
            message: Message = {}
            while message.get("type") != "http.disconnect":
                message = await receive()
            tasks.cancel_scope.cancel()

        tasks.start_soon(watch)
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        tasks.cancel_scope.cancel()
    await send({"type": "http.response.body", "body": b""})
