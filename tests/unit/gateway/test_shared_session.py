"""``SharedSession``: several client sessions multiplexed onto one real upstream process.

The upstream is ``tests/support/stdio_upstream.py`` (raw JSON-RPC lines), run as a real
subprocess; the client sessions are recording links, so every message the gateway sends a
client, and the stream it is sent on, can be checked.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ostiary.gateway.pool import StdioCommand, UpstreamPool
from ostiary.gateway.shared_session import SharedSession
from ostiary.gateway.tool_filter import ToolFilter
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.tokens import VerifiedToken

UPSTREAM = [sys.executable, str(Path(__file__).parents[2] / "support" / "stdio_upstream.py")]
INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}}


def token(subject: str = "alice", scopes: str = "tools:read tools:execute") -> VerifiedToken:
    return VerifiedToken(
        subject=subject,
        client_id="c",
        scopes=frozenset(scopes.split()),
        audience=("https://mcp.example/mcp",),
        issuer="https://as.example",
        expires_at=2_000_000_000,
        claims={"jti": f"jti-{subject}"},
    )


class Link:
    """A client session that records what it is sent, and on which stream."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.received: asyncio.Queue[tuple[dict[str, Any], Any]] = asyncio.Queue()

    async def deliver(self, message: dict[str, Any], related: Any) -> None:
        await self.received.put((message, related))

    async def next(self) -> tuple[dict[str, Any], Any]:
        return await asyncio.wait_for(self.received.get(), 10)

    async def answer(self, request_id: Any) -> dict[str, Any]:
        """The next message, which must be the response to ``request_id``."""
        message, _ = await self.next()
        assert message.get("id") == request_id, message
        return message


def call(request_id: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def text(response: dict[str, Any]) -> str:
    return str(response["result"]["content"][0]["text"])


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool(StdioCommand(UPSTREAM), max_processes=2, idle_timeout=60)
    yield pool
    await pool.close()


async def opened(
    pool: UpstreamPool, *session_ids: str, who: str = "alice"
) -> tuple[SharedSession, list[Link]]:
    shared = await pool.shared_for(token(who))
    links = [Link(s) for s in session_ids]
    for number, link in enumerate(links):
        shared.attach(link)
        initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT}
        await shared.from_client(link, initialize, token(who))
        assert (await link.answer(0))["result"]["serverInfo"]["name"] == "stdio-upstream"
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await shared.from_client(link, initialized, token(who))
        assert number == 0 or shared.process is not None
    return shared, links


async def test_two_sessions_share_one_handshake_and_get_their_own_answers(
    pool: UpstreamPool,
) -> None:
    shared, (a, b) = await opened(pool, "a", "b")
    await shared.from_client(a, call(1, "echo", text="for a"), token())
    await shared.from_client(b, call(1, "echo", text="for b"), token())  # the same client id
    assert text(await a.answer(1)) == "for a"
    assert text(await b.answer(1)) == "for b"
    await shared.from_client(a, call(2, "handshakes"), token())
    assert json.loads(text(await a.answer(2))) == {"initialize": 1, "initialized": 1}
    # the upstream saw ids the gateway chose, never the clients' own
    await shared.from_client(a, call("x", "ids"), token())
    await shared.from_client(b, call("x", "ids"), token())
    seen_a = json.loads(text(await a.answer("x")))
    seen_b = json.loads(text(await b.answer("x")))
    assert seen_a["id"] != seen_b["id"] and seen_a["pid"] == seen_b["pid"]


async def test_users_get_separate_processes_and_the_cap_holds(pool: UpstreamPool) -> None:
    alice, (a,) = await opened(pool, "a", who="alice")
    bob, (b,) = await opened(pool, "b", who="bob")
    await alice.from_client(a, call(1, "ids"), token("alice"))
    await bob.from_client(b, call(1, "ids"), token("bob"))
    assert json.loads(text(await a.answer(1)))["pid"] != json.loads(text(await b.answer(1)))["pid"]
    carol = await pool.shared_for(token("carol"))
    assert not pool.has_room_for(carol.owner)
    link = Link("c")
    carol.attach(link)
    initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT}
    await carol.from_client(link, initialize, token("carol"))
    refused = await link.answer(0)
    assert "limit of 2 upstream processes" in refused["error"]["message"]
    assert pool.running == 2


async def test_progress_is_renumbered_and_routed_to_its_request(pool: UpstreamPool) -> None:
    shared, (a, b) = await opened(pool, "a", "b")
    request = call(5, "progress")
    request["params"]["_meta"] = {"progressToken": "mine"}
    await shared.from_client(a, request, token())
    first, related = await a.next()
    assert first["method"] == "notifications/progress"
    assert first["params"]["progressToken"] == "mine" and related == 5
    second, _ = await a.next()
    assert second["params"]["progress"] == 2
    assert text(await a.answer(5)) == "done"
    assert b.received.empty()


async def test_an_upstream_request_goes_to_the_session_whose_call_caused_it(
    pool: UpstreamPool,
) -> None:
    shared, (a, b) = await opened(pool, "a", "b")
    await shared.from_client(b, call(9, "ask"), token())
    asked, related = await b.next()
    assert asked["method"] == "sampling/createMessage" and related == 9
    assert str(asked["id"]).startswith("gw-")
    sampled = {"role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m"}
    await shared.from_client(b, {"jsonrpc": "2.0", "id": asked["id"], "result": sampled}, token())
    assert text(await b.answer(9)) == "sampled: hello"
    assert a.received.empty()


async def test_notifications_reach_every_session_on_its_latest_request_stream(
    pool: UpstreamPool,
) -> None:
    shared, (a, b) = await opened(pool, "a", "b")
    await shared.from_client(b, call(1, "slow"), token())
    await shared.from_client(a, call(2, "log"), token())
    note_a, related_a = await a.next()
    note_b, related_b = await b.next()
    assert note_a["method"] == note_b["method"] == "notifications/message"
    assert (related_a, related_b) == (2, 1)  # each on its own request's stream
    assert text(await a.answer(2)) == "logged"


async def test_cancellation_and_a_closed_session_cancel_upstream(pool: UpstreamPool) -> None:
    shared, (a, b) = await opened(pool, "a", "b")
    await shared.from_client(a, call("s1", "slow"), token())
    await shared.from_client(b, call("s2", "slow"), token())
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "s1"}}
    await shared.from_client(a, cancel, token())
    await shared.detach(b)
    await shared.from_client(a, call(3, "cancelled"), token())
    cancelled = json.loads(text(await a.answer(3)))
    assert len(cancelled) == 2 and all(isinstance(i, int) for i in cancelled)


async def test_a_crash_fails_what_was_in_flight_warns_and_restarts(pool: UpstreamPool) -> None:
    shared, (a, b) = await opened(pool, "a", "b")
    await shared.from_client(a, call(1, "ids"), token())
    before = json.loads(text(await a.answer(1)))["pid"]
    await shared.from_client(b, call(7, "slow"), token())
    await shared.from_client(a, call(2, "crash"), token())
    failures = {}
    warnings = []
    for link in (a, b):
        for _ in range(2):
            message, _ = await link.next()
            if "error" in message:
                failures[link.session_id] = message
            else:
                warnings.append(message["params"]["data"])
    assert failures["a"]["id"] == 2 and failures["b"]["id"] == 7
    assert "exited with code 3" in failures["a"]["error"]["message"]
    assert (
        warnings == ["upstream server exited with code 3 and was restarted; its state was lost"] * 2
    )
    await shared.from_client(a, call(3, "ids"), token())
    after = json.loads(text(await a.answer(3)))["pid"]
    assert after != before and shared.restarts == 1
    await shared.from_client(a, call(4, "handshakes"), token())
    assert json.loads(text(await a.answer(4))) == {"initialize": 1, "initialized": 1}


async def test_tools_list_hides_what_the_token_may_not_call() -> None:
    policy = ScopePolicy(hide_denied_tools=True).tool("crash", requires=["admin:crash"])
    pool = UpstreamPool(StdioCommand(UPSTREAM), tool_filter=ToolFilter(policy))
    try:
        shared, (a,) = await opened(pool, "a")
        await shared.from_client(a, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token())
        names = {t["name"] for t in (await a.answer(1))["result"]["tools"]}
        assert "echo" in names and "crash" not in names
        wide = token(scopes="tools:execute admin:crash")
        await shared.from_client(a, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, wide)
        assert "crash" in {t["name"] for t in (await a.answer(2))["result"]["tools"]}
    finally:
        await pool.close()


async def test_a_command_that_cannot_start_is_a_clear_error() -> None:
    pool = UpstreamPool(StdioCommand(["/nonexistent/mcp-server"]))
    shared = await pool.shared_for(token())
    link = Link("a")
    shared.attach(link)
    initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT}
    await shared.from_client(link, initialize, token())
    refused = await link.answer(0)
    assert refused["error"]["message"].startswith("cannot start /nonexistent/mcp-server")
    assert pool.running == 0


async def test_an_idle_process_stops_and_starts_again_on_the_next_request() -> None:
    now = [0.0]
    pool = UpstreamPool(StdioCommand(UPSTREAM), idle_timeout=5, clock=lambda: now[0])
    try:
        shared, (a,) = await opened(pool, "a")
        await shared.from_client(a, call(1, "ids"), token())
        before = json.loads(text(await a.answer(1)))["pid"]
        now[0] = 4.0
        await pool.reap_idle()
        assert shared.running
        now[0] = 10.0
        await pool.reap_idle()
        assert not shared.running and pool.running == 0
        await shared.from_client(a, call(2, "ids"), token())
        told, _ = await a.next()
        assert told["method"] == "notifications/message"
        assert "idle, stopped and started again" in told["params"]["data"]
        assert json.loads(text(await a.answer(2)))["pid"] != before
        assert pool.running == 1
    finally:
        await pool.close()
