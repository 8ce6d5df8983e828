"""The MCP endpoint of a stdio upstream: streamable HTTP to clients, one process per user.

This app sits behind ``ProtectedMCP``, which has already checked the token, the scopes and
that an ``Mcp-Session-Id`` belongs to the caller. Each client session gets the official SDK's
``StreamableHTTPServerTransport`` (so the HTTP side is the SDK's: SSE streams, JSON answers,
``Accept`` and protocol-version checks, ``DELETE``); what the transport reads is handed to the
user's ``SharedSession``, which multiplexes it onto the user's upstream process.

Stdio servers speak the ``initialize`` handshake, so a request announcing a stateless
protocol revision (2026-07-28) is answered ``-32022`` naming the handshake revisions, which
makes a client that probes fall back to ``initialize``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import MutableMapping
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp_types import jsonrpc_message_adapter
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from ostiary.gateway.call_audit import CallAudit
from ostiary.gateway.messages import (
    INVALID_REQUEST,
    UNSUPPORTED_PROTOCOL_VERSION,
    Message,
    RequestId,
    error_response,
)
from ostiary.gateway.pool import UpstreamPool
from ostiary.gateway.shared_session import SharedSession
from ostiary.resource.caller import TOKEN_KEY
from ostiary.resource.middleware import respond
from ostiary.resource.tokens import VerifiedToken

log = logging.getLogger("ostiary.gateway")

DEFAULT_SESSION_IDLE = 1800.0
DEFAULT_MAX_SESSIONS = 10_000
JSON = [(b"content-type", b"application/json")]
SESSION_HEADERS = (b"mcp-session-id", b"mcp-protocol-version")


async def reply(send: Send, status: int, body: Message, extra: list[tuple[bytes, bytes]]) -> None:
    await respond(send, status, [*JSON, *extra], json.dumps(body).encode())


class ClientSession:
    """One client MCP session: the SDK transport and the user's shared upstream session."""

    def __init__(self, session_id: str, shared: SharedSession, idle: float | None) -> None:
        self._session_id = session_id
        self.shared = shared
        self.transport = StreamableHTTPServerTransport(session_id, idle_timeout=idle)
        self._write: Any = None

    @property
    def session_id(self) -> str:
        return self._session_id

    async def deliver(self, message: Message, related: RequestId | None) -> None:
        if self._write is None:
            return
        try:
            parsed = jsonrpc_message_adapter.validate_python(message, by_name=False)
        except ValidationError:
            log.warning("%s: dropped a malformed message from upstream", self.shared.label)
            return
        metadata = None if related is None else ServerMessageMetadata(related_request_id=related)
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._write.send(SessionMessage(parsed, metadata=metadata))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Pump the client's messages to the shared session until the session ends."""
        async with self.transport.connect() as (read_stream, write_stream):
            self._write = write_stream
            self.shared.attach(self)
            task_status.started()
            try:
                with self.transport.idle_scope or anyio.CancelScope():
                    await self._pump(read_stream)
            finally:
                self._write = None
                with anyio.CancelScope(shield=True):
                    await self.shared.detach(self)

    async def _pump(self, read_stream: Any) -> None:
        with contextlib.suppress(anyio.ClosedResourceError):  # the session was terminated
            async for item in read_stream:
                if isinstance(item, Exception):
                    continue
                message = item.message.model_dump(by_alias=True, mode="json", exclude_unset=True)
                message["jsonrpc"] = "2.0"
                await self.shared.from_client(self, message, _token(item.metadata))


def _token(metadata: Any) -> VerifiedToken | None:
    request = getattr(metadata, "request_context", None)
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    token = state.get(TOKEN_KEY)
    return token if isinstance(token, VerifiedToken) else None


class StdioGateway:
    """ASGI app: the protected ``/mcp`` of a gateway to a stdio MCP server."""

    def __init__(
        self,
        pool: UpstreamPool,
        *,
        audit: CallAudit | None = None,
        session_idle: float | None = DEFAULT_SESSION_IDLE,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        self.pool = pool
        self.audit = audit
        self.session_idle = session_idle
        self.max_sessions = max_sessions
        self.sessions: dict[str, ClientSession] = {}
        self._tasks: TaskGroup | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        token = scope.get("state", {}).get(TOKEN_KEY)
        if not isinstance(token, VerifiedToken):  # only ever mounted behind ProtectedMCP
            await reply(send, 401, error_response(None, "Unauthorized", INVALID_REQUEST), [])
            return
        headers = {k: v for k, v in scope["headers"] if k in SESSION_HEADERS}
        version = headers.get(b"mcp-protocol-version", b"").decode("latin-1")
        if version and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            supported = {"supported": list(HANDSHAKE_PROTOCOL_VERSIONS), "requested": version}
            message = f"protocol version {version} is not supported by this gateway"
            await reply(
                send,
                400,
                error_response(None, message, UNSUPPORTED_PROTOCOL_VERSION, supported),
                [],
            )
            return
        session_id = headers.get(b"mcp-session-id")
        if session_id is not None:
            await self._existing(session_id.decode("latin-1"), scope, receive, send)
        elif scope["method"] != "POST":
            await reply(
                send,
                400,
                error_response(None, "Bad Request: Missing session ID", INVALID_REQUEST),
                [],
            )
        else:
            await self._open(token, scope, receive, send)

    async def _existing(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            await reply(send, 404, error_response(None, "Session not found", INVALID_REQUEST), [])
            return
        await session.transport.handle_request(scope, receive, send)
        if session.transport.is_terminated:
            self.sessions.pop(session_id, None)

    async def _open(self, token: VerifiedToken, scope: Scope, receive: Receive, send: Send) -> None:
        shared = await self.pool.shared_for(token)
        if not self.pool.has_room_for(shared.owner):
            retry = [(b"retry-after", b"30")]
            await reply(send, 503, error_response(None, self.pool.capacity_error()), retry)
            return
        if len(self.sessions) >= self.max_sessions:
            await reply(send, 503, error_response(None, "too many open sessions"), [])
            return
        assert self._tasks is not None, "the gateway app runs only inside its lifespan"
        session = ClientSession(uuid.uuid4().hex, shared, self.session_idle)
        self.sessions[session.session_id] = session
        await self._tasks.start(self._run, session)
        status: int | None = None

        async def watch(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await session.transport.handle_request(scope, receive, watch)
        finally:
            if status is None or status >= 400:
                await self._discard(session)

    async def _run(
        self, session: ClientSession, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            await session.run(task_status=task_status)
        except Exception:
            log.exception("%s: session %s failed", session.shared.label, session.session_id)
        finally:
            await self._discard(session)

    async def _discard(self, session: ClientSession) -> None:
        self.sessions.pop(session.session_id, None)
        if not session.transport.is_terminated:
            with anyio.CancelScope(shield=True):
                await session.transport.terminate()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self.pool.run)
            if self.audit is not None:
                tasks.start_soon(self.audit.run)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            for session in list(self.sessions.values()):
                await self._discard(session)
            await self.pool.close()
            tasks.cancel_scope.cancel()
        self._tasks = None
        if self.audit is not None:
            await self.audit.flush()
        await send({"type": "lifespan.shutdown.complete"})
