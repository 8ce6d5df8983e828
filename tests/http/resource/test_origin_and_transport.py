"""Origin validation (REQ-RS-16), body limits and replay, the caller context, other ASGI events."""

from __future__ import annotations

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from ostiary.resource import caller
from ostiary.resource.middleware import ProtectedMCP

from .mcp_app import ISSUER, RESOURCE, TOKENS, TableVerifier, bearer, mcp_app, protected, rpc

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


async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token() -> None:
    async with protected(allowed_origins=["http://localhost:6274"]) as (client, middleware):
        allowed = await client.options(
            "/mcp",
            headers={"Origin": "http://localhost:6274", "Access-Control-Request-Method": "POST"},
        )
        foreign = await client.options(
            "/mcp",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        no_origin = await client.options("/mcp", headers={"Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:6274"
    assert "Authorization" in allowed.headers["access-control-allow-headers"]
    assert "Mcp-Session-Id" in allowed.headers["access-control-allow-headers"]
    assert "DELETE" in allowed.headers["access-control-allow-methods"]
    assert allowed.headers["vary"] == "Origin"
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    assert no_origin.status_code == 405  # not a browser's preflight: the app (no OPTIONS) answers
    assert middleware.verifier.seen == []  # type: ignore[attr-defined]


async def test_a_browser_client_can_read_every_answer_to_its_allowed_origin() -> None:
    origin = {"Origin": "http://localhost:6274"}
    async with protected(allowed_origins=["http://localhost:6274"]) as (client, _):
        challenged = await client.post("/mcp", content=PING, headers=origin)
        answered = await client.post("/mcp", content=PING, headers={**bearer("empty"), **origin})
        same_origin = await client.post("/mcp", content=PING, headers=bearer("empty"))
    for response in (challenged, answered):
        assert response.headers["access-control-allow-origin"] == "http://localhost:6274"
        exposed = response.headers["access-control-expose-headers"]
        assert "WWW-Authenticate" in exposed and "Mcp-Session-Id" in exposed
    assert challenged.status_code == 401 and "www-authenticate" in challenged.headers
    assert answered.status_code == 200
    assert "access-control-allow-origin" not in same_origin.headers


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


LOOPBACK_RESOURCE = "http://127.0.0.1:8321/mcp"


async def post_with_host(host: str | None, token: str | None, **options: object) -> int:
    """POST ``ping`` to a loopback resource with an explicit ``Host`` (None: none at all)."""
    middleware = ProtectedMCP(
        mcp_app(),
        verifier=TableVerifier(TOKENS),
        resource=str(options.pop("resource", LOOPBACK_RESOURCE)),
        authorization_servers=[ISSUER],
        **options,  # type: ignore[arg-type]
    )
    headers = [(b"content-type", b"application/json")]
    if host is not None:
        headers.append((b"host", host.encode()))
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    sent: list[Message] = []
    body = PING.encode()

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 8321),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "http_version": "1.1",
    }
    await middleware(scope, receive, send)
    status: int = sent[0]["status"]
    return status


@pytest.mark.parametrize(
    ("host", "token", "status"),
    [
        ("127.0.0.1:8321", "empty", 200),
        ("localhost:8321", "empty", 200),
        ("[::1]:8321", "empty", 200),
        ("LOCALHOST:8321", "empty", 200),
        ("127.0.0.1:8321", None, 401),  # the Host is fine; the token is missing
        ("evil.example.com", "empty", 403),  # a rebinding page, even holding a good token
        ("evil.example.com", None, 403),  # refused before any token is looked at
        ("evil.example.com:8321", None, 403),
        ("127.0.0.1:9999", "empty", 403),
        ("127.0.0.1", "empty", 403),  # port 80 is not this server's
        (None, "empty", 403),
    ],
)
async def test_a_loopback_resource_answers_only_its_loopback_host(
    host: str | None, token: str | None, status: int
) -> None:
    assert await post_with_host(host, token) == status


async def test_a_public_resource_checks_host_only_when_configured() -> None:
    public = {"resource": RESOURCE}
    assert await post_with_host("evil.example.com", "empty", **public) == 200
    hosts = {"allowed_hosts": ["mcp.example"]}
    assert await post_with_host("evil.example.com", "empty", **public, **hosts) == 403
    assert await post_with_host("MCP.example", "empty", **public, **hosts) == 200
    anything = {"allowed_hosts": ["*"]}
    assert await post_with_host("evil.example.com", "empty", **anything) == 200
