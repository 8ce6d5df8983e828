"""Origin validation (REQ-RS-16), body limits and replay, the caller context, other ASGI events."""

from __future__ import annotations

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from ostiary.resource import caller
from ostiary.resource.middleware import ProtectedMCP

from .mcp_app import ISSUER, RESOURCE, TOKENS, TableVerifier, bearer, protected, rpc

PING = json.dumps(rpc("ping"))


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (None, 200),
        ("https://mcp.example", 200),
        ("HTTPS://MCP.EXAMPLE", 200),
        ("https://evil.example", 403),
        ("http://mcp.example", 403),
        ("https://mcp.example:8443", 403),
        ("null", 403),
    ],
)
async def test_default_allows_only_the_resource_origin(origin: str | None, status: int) -> None:
    headers = {**bearer("empty"), **({"Origin": origin} if origin else {})}
    async with protected() as (client, middleware):
        response = await client.post("/mcp", content=PING, headers=headers)
    assert response.status_code == status
    if status == 403:
        assert response.json()["error_description"] == "origin not allowed"
        assert "www-authenticate" not in response.headers
        assert middleware.verifier.seen == []  # type: ignore[attr-defined]


async def test_configured_origins_replace_the_default() -> None:
    origins = ["http://localhost:6274", "https://inspector.example/"]
    async with protected(allowed_origins=origins) as (client, _):
        local = await client.post(
            "/mcp", content=PING, headers={**bearer("empty"), "Origin": "http://localhost:6274"}
        )
        slash = await client.post(
            "/mcp", content=PING, headers={**bearer("empty"), "Origin": "https://inspector.example"}
        )
        own = await client.post(
            "/mcp", content=PING, headers={**bearer("empty"), "Origin": "https://mcp.example"}
        )
    assert (local.status_code, slash.status_code, own.status_code) == (200, 200, 403)


async def test_untrusted_origin_is_refused_even_without_a_token() -> None:
    async with protected() as (client, _):
        response = await client.get("/mcp", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


async def test_cors_preflight_reaches_the_app_without_a_token() -> None:
    async with protected() as (client, middleware):
        response = await client.options(
            "/mcp",
            headers={"Origin": "https://mcp.example", "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 405  # the test app has no OPTIONS route: it was reached
    assert middleware.verifier.seen == []  # type: ignore[attr-defined]


async def test_body_is_replayed_intact_and_bounded() -> None:
    padding = "x" * 5000
    body = json.dumps(rpc("ping", {"pad": padding}))
    async with protected(max_body=6000) as (client, _):
        small = await client.post("/mcp", content=body, headers=bearer("empty"))
        large = await client.post(
            "/mcp", content=json.dumps(rpc("ping", {"pad": padding * 2})), headers=bearer("empty")
        )
    assert small.status_code == 200
    assert small.json()["result"]["body_length"] == len(body)
    assert large.status_code == 413


async def test_caller_is_visible_in_state_and_context_only_inside() -> None:
    async with protected() as (client, _):
        response = await client.post("/mcp", content=PING, headers=bearer("write"))
    caller_seen = response.json()["result"]
    assert caller_seen["state"] == {
        "subject": "alice",
        "scopes": ["resources:write", "tools:execute"],
    }
    assert caller_seen["context"] == caller_seen["state"]
    assert caller.current_token() is None
    with pytest.raises(LookupError):
        caller.require_token()


async def test_require_token_inside_a_request() -> None:
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(caller.require_token())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    import httpx

    middleware = ProtectedMCP(
        app, verifier=TableVerifier(TOKENS), resource=RESOURCE, authorization_servers=[ISSUER]
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="https://mcp.example") as client:
        response = await client.get("/mcp", headers=bearer("exec"))
    assert response.status_code == 204
    assert seen == [TOKENS["exec"]]


async def test_lifespan_passes_through_and_websockets_are_closed() -> None:
    reached: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["type"])

    middleware = ProtectedMCP(
        app, verifier=TableVerifier(TOKENS), resource=RESOURCE, authorization_servers=[ISSUER]
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware({"type": "lifespan"}, receive, send)
    await middleware({"type": "websocket", "path": "/mcp", "headers": []}, receive, send)
    assert reached == ["lifespan"]
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_client_disconnect_while_reading_the_body_sends_nothing() -> None:
    middleware = ProtectedMCP(
        lambda *_: None,  # type: ignore[arg-type]
        verifier=TableVerifier(TOKENS),
        resource=RESOURCE,
        authorization_servers=[ISSUER],
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [], "query_string": b""}
    await middleware(scope, receive, send)
    assert sent == []
