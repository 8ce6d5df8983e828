"""CORS: open on the cookie-less machine endpoints, absent from the pages people see."""

from __future__ import annotations

import pytest

from ..helpers import Server, pkce_pair

ORIGIN = {"Origin": "https://inspector.example"}
PREFLIGHT = {
    **ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, authorization",
}


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/jwks",
    ],
)
async def test_machine_documents_allow_any_origin(server: Server, path: str) -> None:
    response = await server.browser.get(path, headers=ORIGIN)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


async def test_token_responses_allow_any_origin(server: Server) -> None:
    error = await server.token({"grant_type": "nope", "client_id": "x"}, ORIGIN)
    assert error.status_code == 400
    assert error.headers["access-control-allow-origin"] == "*"

    tokens = await server.tokens()
    assert tokens["access_token"]
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)
    ok = await server.redeem(code, verifier, headers=ORIGIN)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/token", "/jwks", "/.well-known/oauth-authorization-server"])
async def test_preflight_is_answered_with_204(any_server: Server, path: str) -> None:
    server = any_server
    prefix = "" if path.startswith("/.well-known") else server.base
    suffix = server.base if path.startswith("/.well-known") else ""

    response = await server.browser.options(f"{prefix}{path}{suffix}", headers=PREFLIGHT)

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= methods
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "mcp-protocol-version"} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0


async def test_pages_carry_no_cors_header(server: Server) -> None:
    _, challenge = pkce_pair()
    responses = {
        "login": await server.browser.get("/login", headers=ORIGIN),
        "home": await server.browser.get("/", headers=ORIGIN),
        "authorize": await server.browser.get(
            "/authorize", params=server.authorize_params(challenge), headers=ORIGIN
        ),
        "login post": await server.browser.post("/login", data={"username": "x"}, headers=ORIGIN),
    }
    for name, response in responses.items():
        assert "access-control-allow-origin" not in response.headers, name


@pytest.mark.parametrize("path", ["/login", "/consent", "/authorize"])
async def test_pages_answer_no_preflight(server: Server, path: str) -> None:
    response = await server.browser.options(path, headers=PREFLIGHT)

    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
