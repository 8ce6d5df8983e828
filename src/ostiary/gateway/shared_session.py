"""One user's upstream stdio server, shared by every MCP session that user opens.

A stdio server holds exactly one MCP session, so the gateway does the handshake itself (with
the first client's ``initialize`` parameters) and answers every client's ``initialize`` from
the result. Requests from several client sessions are multiplexed onto the one upstream
session by renumbering: each forwarded request gets a fresh upstream id (and a fresh progress
token when it carries one), and the answer goes back to the session that asked, under its own
id. The same holds in the other direction for the upstream's own requests (sampling,
elicitation, roots).

Where the upstream's other messages go (stdio carries no "related request"):

- a response or a progress notification: to the session and request it belongs to;
- a request (sampling, elicitation, roots): to the session with the most recent request in
  flight, on that request's stream (that request is almost always the one that caused it);
  with no request in flight, to the most recently active session's standalone stream;
- any other notification (log messages, list changes, resource updates): to every session,
  on the stream of its latest request in flight or else its standalone stream.

When the process exits unexpectedly every request in flight is answered with an error, every
session gets a warning log notification, and the process is started again (re-initialized
with the same parameters), unless it crashed ``CRASH_LIMIT`` times within ``CRASH_WINDOW``
seconds: then the next request tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ostiary.gateway.call_audit import CallAudit, CallRecord
from ostiary.gateway.messages import Message, RequestId, error_response
from ostiary.gateway.tool_filter import ToolFilter
from ostiary.gateway.upstream_process import StartFailed, UpstreamProcess
from ostiary.resource.jsonrpc import TARGET_PARAM
from ostiary.resource.tokens import VerifiedToken

log = logging.getLogger("ostiary.gateway")

INITIALIZE_TIMEOUT = 30.0
CRASH_LIMIT = 3
CRASH_WINDOW = 60.0


class ClientLink(Protocol):
    """One client MCP session, as the shared session sees it."""

    @property
    def session_id(self) -> str: ...

    async def deliver(self, message: Message, related: RequestId | None) -> None:
        """Send ``message`` to the client, on ``related``'s stream or the standalone one."""


class AtCapacity(Exception):
    """Starting another upstream process would exceed the configured cap."""


class UpstreamUnavailable(Exception):
    """The upstream could not be started or initialized; the message says why."""


ProcessFactory = Callable[["SharedSession"], UpstreamProcess]


@dataclass(slots=True)
class Pending:
    """A client request forwarded upstream, waiting for its answer."""

    link: ClientLink
    client_id: RequestId
    method: str
    target: str | None
    token: VerifiedToken | None
    started: float
    progress: int | None = None


@dataclass(slots=True)
class LinkState:
    """Per client session: its requests in flight (client id → upstream id)."""

    link: ClientLink
    inflight: dict[RequestId, int] = field(default_factory=dict)
    active: float = 0.0


def _target(method: str, params: Any) -> str | None:
    """The tool, prompt or resource a request names (what ``Mcp-Name`` mirrors)."""
    key = TARGET_PARAM.get(method)
    value = params.get(key) if key is not None and isinstance(params, dict) else None
    return value if isinstance(value, str) else None


class SharedSession:
    """The upstream process of one user and the client sessions multiplexed onto it."""

    def __init__(
        self,
        owner: tuple[str, str],
        label: str,
        factory: ProcessFactory,
        *,
        reserve: Callable[[SharedSession], None],
        release: Callable[[SharedSession], None],
        audit: CallAudit | None = None,
        tool_filter: ToolFilter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.owner = owner
        self.label = label
        self._factory = factory
        self._reserve = reserve
        self._release = release
        self._audit = audit
        self._tool_filter = tool_filter
        self._clock = clock
        self.process: UpstreamProcess | None = None
        self.links: dict[str, LinkState] = {}
        self.init_params: Message | None = None
        self.init_result: Message | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, Pending] = {}
        self._progress: dict[int, tuple[ClientLink, Any, RequestId]] = {}
        self._server_requests: dict[tuple[str, str], RequestId] = {}
        self._handshake: asyncio.Future[Message] | None = None
        self._handshake_id: int | None = None
        self._start_lock = asyncio.Lock()
        self._crashes: list[float] = []
        self._restarting: asyncio.Task[None] | None = None
        self._idle_stopped = False
        self.last_active = clock()
        self.restarts = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and not self.process.stopping

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def attach(self, link: ClientLink) -> None:
        self.links[link.session_id] = LinkState(link, active=self._clock())

    async def detach(self, link: ClientLink) -> None:
        """The client session ended: cancel what it still waits for upstream."""
        state = self.links.pop(link.session_id, None)
        if state is None:
            return
        for upstream_id in list(state.inflight.values()):
            self._pending.pop(upstream_id, None)
            await self._send_quietly(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": upstream_id, "reason": "client session ended"},
                }
            )
        for key in [k for k in self._server_requests if k[0] == link.session_id]:
            asked = self._server_requests.pop(key)
            await self._send_quietly(error_response(asked, "client session ended"))

    async def ensure_running(self, params: Message | None = None) -> Message:
        """Start and initialize the upstream if needed; its ``initialize`` result."""
        if self.init_params is None and params is not None:
            self.init_params = params
        if self.running and self.init_result is not None:
            return self.init_result
        async with self._start_lock:
            if self.running and self.init_result is not None:
                return self.init_result
            return await self._start()

    async def _start(self) -> Message:
        if self.init_params is None:
            raise UpstreamUnavailable("the session has not been initialized")
        self._reserve(self)  # AtCapacity propagates
        process = self._factory(self)
        try:
            await process.start()
        except StartFailed as exc:
            self._release(self)
            raise UpstreamUnavailable(str(exc)) from None
        self.process = process
        upstream_id = next(self._ids)
        handshake: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._handshake, self._handshake_id = handshake, upstream_id
        request = {"jsonrpc": "2.0", "id": upstream_id, "method": "initialize"}
        request["params"] = self.init_params
        try:
            await process.send(request)
            answer = await asyncio.wait_for(asyncio.shield(handshake), INITIALIZE_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            await self.stop()
            reason = "did not answer initialize" if isinstance(exc, TimeoutError) else "exited"
            raise UpstreamUnavailable(f"upstream server {reason}") from None
        finally:
            self._handshake = self._handshake_id = None
        if "result" not in answer or not isinstance(answer["result"], dict):
            await self.stop()
            error = answer.get("error", {})
            message = error.get("message") if isinstance(error, dict) else None
            raise UpstreamUnavailable(f"upstream refused initialize: {message or answer}")
        await process.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.init_result = answer["result"]
        if self._idle_stopped:
            self._idle_stopped = False
            await self._notify_all(
                "upstream server was idle, stopped and started again; its earlier state was lost"
            )
        return self.init_result

    async def stop(self, *, idle: bool = False) -> None:
        """Stop the process (idle, shutdown); the next request starts it again, and after an
        idle stop tells the sessions it did."""
        process = self.process
        if process is None:
            return
        self._idle_stopped = idle
        process.stopping = True
        await process.stop()
        if self.process is process:
            self.process = None
            self.init_result = None
            self._release(self)

    async def process_exited(self, process: UpstreamProcess, code: int) -> None:
        if self.process is not process:
            return
        self.process = None
        self.init_result = None
        self._release(self)
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(ConnectionResetError("exited during initialize"))
        if process.stopping:
            return
        now = self._clock()
        self._crashes = [t for t in self._crashes if now - t < CRASH_WINDOW] + [now]
        await self._fail_pending(f"upstream server exited with code {code}")
        restart = len(self._crashes) < CRASH_LIMIT and bool(self.links)
        note = (
            "was restarted; its state was lost"
            if restart
            else "will be started again on the next request"
        )
        await self._notify_all(f"upstream server exited with code {code} and {note}")
        if restart:
            self.restarts += 1
            self._restarting = asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        try:
            await self.ensure_running()
        except (UpstreamUnavailable, AtCapacity) as exc:
            log.warning("%s: restart failed: %s", self.label, exc)

    async def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        self._progress.clear()
        for item in pending.values():
            state = self.links.get(item.link.session_id)
            if state is not None:
                state.inflight.pop(item.client_id, None)
            self._record(item, "error", reason)
            await item.link.deliver(error_response(item.client_id, reason), None)
        self._server_requests.clear()

    async def _notify_all(self, text: str) -> None:
        message = {
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": "warning", "logger": "ostiary-gateway", "data": text},
        }
        for state in list(self.links.values()):
            await state.link.deliver(message, None)

    # -- client → upstream -------------------------------------------------------------------

    async def from_client(
        self, link: ClientLink, message: Message, token: VerifiedToken | None
    ) -> None:
        self.last_active = now = self._clock()
        state = self.links.get(link.session_id)
        if state is None:
            return
        state.active = now
        method = message.get("method")
        if not isinstance(method, str):
            await self._client_response(link, message)
        elif "id" in message:
            await self._client_request(state, message, method, token)
        elif method == "notifications/initialized":
            pass  # the gateway did the upstream handshake itself
        elif method == "notifications/cancelled":
            await self._client_cancel(state, message)
        else:
            await self._forward_or_drop(message)

    async def _client_request(
        self, state: LinkState, message: Message, method: str, token: VerifiedToken | None
    ) -> None:
        link, client_id = state.link, message["id"]
        params = message.get("params")
        if method == "initialize":
            await self._initialize(link, client_id, params, token)
            return
        item = Pending(link, client_id, method, _target(method, params), token, self._clock())
        try:
            await self.ensure_running()
        except (UpstreamUnavailable, AtCapacity) as exc:
            self._record(item, "error", str(exc))
            await link.deliver(error_response(client_id, str(exc)), None)
            return
        upstream_id = next(self._ids)
        forwarded = {**message, "id": upstream_id}
        if isinstance(params, dict):
            forwarded["params"] = self._renumber_progress(params, item, link, client_id)
        self._pending[upstream_id] = item
        state.inflight[client_id] = upstream_id
        try:
            assert self.process is not None
            await self.process.send(forwarded)
        except (ConnectionError, AssertionError):
            pass  # the exit handler answers everything in flight

    def _renumber_progress(
        self, params: Message, item: Pending, link: ClientLink, client_id: RequestId
    ) -> Message:
        meta = params.get("_meta")
        if not isinstance(meta, dict) or "progressToken" not in meta:
            return params
        token = next(self._ids)
        self._progress[token] = (link, meta["progressToken"], client_id)
        item.progress = token
        return {**params, "_meta": {**meta, "progressToken": token}}

    async def _initialize(
        self, link: ClientLink, client_id: RequestId, params: Any, token: VerifiedToken | None
    ) -> None:
        item = Pending(link, client_id, "initialize", None, token, self._clock())
        try:
            result = await self.ensure_running(params if isinstance(params, dict) else {})
        except (UpstreamUnavailable, AtCapacity) as exc:
            self._record(item, "error", str(exc))
            await link.deliver(error_response(client_id, str(exc)), None)
            return
        self._record(item, "ok", "")
        await link.deliver({"jsonrpc": "2.0", "id": client_id, "result": result}, None)

    async def _client_cancel(self, state: LinkState, message: Message) -> None:
        params = message.get("params")
        if not isinstance(params, dict):
            return
        upstream_id = state.inflight.get(params.get("requestId"))  # type: ignore[arg-type]
        if upstream_id is not None:
            await self._forward_or_drop({**message, "params": {**params, "requestId": upstream_id}})

    async def _client_response(self, link: ClientLink, message: Message) -> None:
        """The client's answer to an upstream request: back under the upstream's id."""
        upstream_id = self._server_requests.pop((link.session_id, str(message.get("id"))), None)
        if upstream_id is not None:
            await self._forward_or_drop({**message, "id": upstream_id})

    async def _forward_or_drop(self, message: Message) -> None:
        if self.process is not None and self.init_result is not None:
            await self._send_quietly(message)

    async def _send_quietly(self, message: Message) -> None:
        if self.process is not None:
            with contextlib.suppress(ConnectionError):
                await self.process.send(message)

    # -- upstream → client -------------------------------------------------------------------

    async def on_upstream(self, message: Message) -> None:
        self.last_active = self._clock()
        method = message.get("method")
        if method is None:
            await self._upstream_response(message)
        elif "id" in message:
            await self._upstream_request(message, method)
        elif method == "notifications/progress":
            await self._upstream_progress(message)
        else:
            for state in list(self.links.values()):
                await state.link.deliver(message, self._latest_inflight(state))

    async def _upstream_response(self, message: Message) -> None:
        upstream_id = message.get("id")
        handshake = self._handshake
        if handshake is not None and upstream_id == self._handshake_id:
            if not handshake.done():
                handshake.set_result(message)
            return
        item = self._pending.pop(upstream_id, None)  # type: ignore[arg-type]
        if item is None:
            return
        state = self.links.get(item.link.session_id)
        if state is not None:
            state.inflight.pop(item.client_id, None)
        if item.progress is not None:
            self._progress.pop(item.progress, None)
        answer = {**message, "id": item.client_id}
        if item.method == "tools/list" and self._tool_filter is not None:
            answer = self._tool_filter.filter_response(answer, item.token)
        failed = "error" in message
        self._record(item, "error" if failed else "ok", _error_text(message) if failed else "")
        await item.link.deliver(answer, None)

    async def _upstream_progress(self, message: Message) -> None:
        params = message.get("params")
        if not isinstance(params, dict):
            return
        found = self._progress.get(params.get("progressToken"))  # type: ignore[arg-type]
        if found is None:
            return
        link, client_token, client_id = found
        await link.deliver(
            {**message, "params": {**params, "progressToken": client_token}}, client_id
        )

    async def _upstream_request(self, message: Message, method: str) -> None:
        upstream_id = message["id"]
        if method == "ping":
            await self._send_quietly({"jsonrpc": "2.0", "id": upstream_id, "result": {}})
            return
        chosen = self._choose_link()
        if chosen is None:
            await self._send_quietly(error_response(upstream_id, "no client is connected"))
            return
        state, related = chosen
        gateway_id = f"gw-{next(self._ids)}"
        self._server_requests[(state.link.session_id, gateway_id)] = upstream_id
        await state.link.deliver({**message, "id": gateway_id}, related)

    def _choose_link(self) -> tuple[LinkState, RequestId | None] | None:
        """The session with the newest request in flight (and that request), else the most
        recently active session and its standalone stream."""
        newest: tuple[int, LinkState, RequestId] | None = None
        for state in self.links.values():
            for client_id, upstream_id in state.inflight.items():
                if newest is None or upstream_id > newest[0]:
                    newest = (upstream_id, state, client_id)
        if newest is not None:
            return newest[1], newest[2]
        if not self.links:
            return None
        return max(self.links.values(), key=lambda s: s.active), None

    @staticmethod
    def _latest_inflight(state: LinkState) -> RequestId | None:
        if not state.inflight:
            return None
        return max(state.inflight.items(), key=lambda kv: kv[1])[0]

    # -- audit -------------------------------------------------------------------------------

    def _record(self, item: Pending, outcome: str, error: str) -> None:
        if self._audit is None:
            return
        self._audit.record(
            CallRecord(
                token=item.token,
                method=item.method,
                target=item.target,
                decision="allowed",
                outcome=outcome,
                latency_ms=(self._clock() - item.started) * 1000,
                error=error,
            )
        )


def _error_text(message: Message) -> str:
    error = message.get("error")
    if isinstance(error, dict):
        return f"{error.get('code')} {error.get('message', '')}".strip()
    return "error"
