"""``HttpGateway``'s hop to the upstream: what is forwarded, what is kept back, and cookies.

The upstream is an ``httpx2.MockTransport`` recording each request it gets; the gateway app is
called in process with a verified token in its scope, as ``ProtectedMCP`` leaves it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
from starlette.types import Receive, Scope, Send

from ostiary.gateway.http_app import HttpGateway
from ostiary.resource.caller import TOKEN_KEY
from ostiary.resource.tokens import VerifiedToken

UPSTREAM = "http://upstream.test/mcp"


def token(subject: str) -> VerifiedToken:
    return VerifiedToken(subject, "cid", frozenset({"tools:execute"}), (), "iss", 0, None, {})


class Upstream:
    """Answers every request with a JSON-RPC result and a cookie, and records the headers."""

    def __init__(self) -> None:
        self.seen: list[httpx2.Headers] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request.headers)
        body = {"jsonrpc": "2.0", "id": 1, "result": {}}
        cookie = {"set-cookie": "upstream_session=alice-secret; Path=/"}
        return httpx2.Response(200, headers=cookie, json=body)


def as_user(app: HttpGateway, subject: str) -> Any:
    async def with_token(scope: Scope, receive: Receive, send: Send) -> None:
        state = {TOKEN_KEY: token(subject)}
        await app({**scope, "state": state}, receive, send)

    return with_token


async def post(app: HttpGateway, subject: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=as_user(app, subject))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        return await client.post("/mcp", content=body, headers=headers)


async def test_one_users_upstream_cookie_never_rides_on_anothers_request() -> None:
    upstream = Upstream()
    app = HttpGateway(UPSTREAM, transport=httpx2.MockTransport(upstream))
    alice = await post(app, "alice", {})
    bob = await post(app, "bob", {})
    assert alice.status_code == bob.status_code == 200
    assert "set-cookie" not in alice.headers  # nor is it handed to the client
    assert [h.get("cookie") for h in upstream.seen] == [None, None]


async def test_the_clients_credentials_stay_here_and_the_operators_go_upstream() -> None:
    upstream = Upstream()
    app = HttpGateway(
        UPSTREAM,
        headers={"X-Api-Key": "operator"},
        user_headers={"bob": {"X-Api-Key": "bobs-own", "X-Extra": "1"}},
        transport=httpx2.MockTransport(upstream),
    )
    client_headers = {
        "Authorization": "Bearer the-clients-token",
        "Cookie": "browser=1",
        "X-Api-Key": "forged",
        "Mcp-Session-Id": "s-1",
    }
    await post(app, "alice", client_headers)
    await post(app, "bob", client_headers)
    alice, bob = upstream.seen
    for seen in (alice, bob):
        assert "authorization" not in seen and "cookie" not in seen
        assert seen["mcp-session-id"] == "s-1"
        assert seen.get_list("x-api-key") == [seen["x-api-key"]]  # the client's one is dropped
    assert alice["x-api-key"] == "operator" and "x-extra" not in alice
    assert bob["x-api-key"] == "bobs-own" and bob["x-extra"] == "1"


async def test_an_unreachable_upstream_is_a_502_with_a_json_rpc_error() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    app = HttpGateway(UPSTREAM, transport=httpx2.MockTransport(refuse))
    answer = await post(app, "alice", {})
    assert answer.status_code == 502
    assert answer.json()["error"]["message"] == "upstream unreachable"
