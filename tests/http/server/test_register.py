"""``POST /register`` (RFC 7591) through the whole application, then the clients it made."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ostiary.core.models import AuthMethod, ClientId

from ..helpers import Server, basic_auth, pkce_pair, single

NATIVE_REDIRECT = "http://127.0.0.1:45678/callback"
WEB_REDIRECT = "https://registered.example.com/cb"
CUSTOM_REDIRECT = "com.example.desktop:/oauth/cb"
DAY = 24 * 3600


def mcp_client(**fields: Any) -> dict[str, Any]:
    """What an MCP desktop client sends (the conformance suite sends exactly this)."""
    return {
        "client_name": "MCP Desktop",
        "redirect_uris": [NATIVE_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **fields,
    }


async def register(server: Server, body: Any, **kwargs: Any) -> httpx.Response:
    return await server.browser.post(f"{server.base}/register", json=body, **kwargs)


async def registered(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    response = await register(server, body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error


async def test_the_endpoint_is_advertised(any_server: Server) -> None:
    path = f"/.well-known/oauth-authorization-server{any_server.base}"
    metadata = (await any_server.browser.get(path)).json()
    assert metadata["registration_endpoint"] == f"{any_server.issuer}/register"


async def test_registration_answers_201_no_store_with_the_client(any_server: Server) -> None:
    response = await register(any_server, mcp_client())

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    client_id = body["client_id"]
    assert not client_id.startswith("https://")
    assert len(client_id) >= 16
    assert body["client_id_issued_at"] == any_server.clock.now()
    assert body["application_type"] == "native"
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    stored = any_server.storage.clients[ClientId(client_id)]
    assert stored.dynamic is True
    assert stored.redirect_uris == (NATIVE_REDIRECT,)


async def test_a_confidential_secret_is_returned_once_and_stored_hashed(server: Server) -> None:
    body = await registered(server, {"client_name": "Svc", "redirect_uris": [WEB_REDIRECT]})

    secret = body["client_secret"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"  # RFC 7591 default
    assert body["client_secret_expires_at"] == 0
    stored = server.storage.clients[ClientId(body["client_id"])]
    assert stored.secret_hash == server.ctx.deps.hasher.hash(secret)
    assert stored.secret_hash != secret
    # Nothing reads a registration back: no GET, no second answer holding the secret.
    again = await server.browser.get(f"{server.base}/register")
    assert again.status_code == 405
    assert secret not in again.text


async def run_code_flow(
    server: Server, client_id: str, redirect_uri: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    verifier, challenge = pkce_pair()
    code, query = await server.authorization_code(
        challenge, client_id=client_id, redirect_uri=redirect_uri
    )
    assert single(query, "iss") == server.issuer
    return await server.redeem(
        code, verifier, client_id=client_id, redirect_uri=redirect_uri, headers=headers
    )


async def test_a_registered_public_client_completes_the_flow(any_server: Server) -> None:
    client_id = (await registered(any_server, mcp_client()))["client_id"]
    # RFC 8252 §7.3: the loopback port may differ from the registered one.
    redirect = NATIVE_REDIRECT.replace("45678", "51234")

    response = await run_code_flow(any_server, client_id, redirect)

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["refresh_token"]
    refreshed = await any_server.refresh(tokens["refresh_token"], client_id=client_id)
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_registered_confidential_client_authenticates_with_its_secret(
    server: Server, method: str
) -> None:
    body = await registered(
        server,
        {
            "client_name": "Web",
            "redirect_uris": [WEB_REDIRECT],
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code"],
        },
    )
    client_id, secret = body["client_id"], body["client_secret"]
    basic = method == "client_secret_basic"
    headers = {"Authorization": basic_auth(client_id, secret)} if basic else None
    extra = {} if basic else {"client_secret": secret}

    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=client_id, redirect_uri=WEB_REDIRECT
    )
    response = await server.redeem(
        code, verifier, client_id=client_id, redirect_uri=WEB_REDIRECT, headers=headers, **extra
    )
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()  # grant_types holds no refresh_token

    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=client_id, redirect_uri=WEB_REDIRECT
    )
    wrong = {"Authorization": basic_auth(client_id, "wrong")} if basic else None
    extra = {} if basic else {"client_secret": "wrong"}
    refused = await server.redeem(
        code, verifier, client_id=client_id, redirect_uri=WEB_REDIRECT, headers=wrong, **extra
    )
    assert_error(refused, 401, "invalid_client")


async def test_a_custom_scheme_redirect_matches_exactly(server: Server) -> None:
    client_id = (await registered(server, mcp_client(redirect_uris=[CUSTOM_REDIRECT])))["client_id"]
    _, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=client_id, redirect_uri=CUSTOM_REDIRECT
    )
    assert code

    for other in (f"{CUSTOM_REDIRECT}/x", "com.example.desktop:/oauth/cb?x=1"):
        params = server.authorize_params(challenge, client_id=client_id, redirect_uri=other)
        response = await server.authorize(params)
        assert response.status_code == 400, other  # an error page, never a redirect
        assert "location" not in response.headers


async def test_the_token_endpoint_records_use_at_most_daily(server: Server) -> None:
    client_id = ClientId((await registered(server, mcp_client()))["client_id"])
    assert server.storage.clients[client_id].last_used_at is None
    first_use = server.clock.now()

    tokens = (await run_code_flow(server, client_id, NATIVE_REDIRECT)).json()
    assert server.storage.clients[client_id].last_used_at == first_use

    server.clock.advance(3600)  # past the client cache, within the day: no write
    refreshed = await server.refresh(tokens["refresh_token"], client_id=client_id)
    assert refreshed.status_code == 200, refreshed.text
    assert server.storage.clients[client_id].last_used_at == first_use

    server.clock.advance(DAY)
    again = await server.refresh(refreshed.json()["refresh_token"], client_id=client_id)
    assert again.status_code == 200, again.text
    assert server.storage.clients[client_id].last_used_at == server.clock.now()


async def test_operator_clients_are_never_touched(server: Server) -> None:
    tokens = await server.tokens()
    assert tokens["access_token"]
    assert all(c.last_used_at is None for c in server.storage.clients.values())


@pytest.mark.parametrize(
    ("content", "content_type", "error"),
    [
        pytest.param(b"{", "application/json", "not valid JSON", id="malformed-json"),
        pytest.param(b"\xff\xfe", "application/json", "not valid JSON", id="not-utf8"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "application/json", "JSON", id="deep-nesting"),
        pytest.param(b"[]", "application/json", "JSON object", id="array"),
        pytest.param(
            b"client_name=x", "application/x-www-form-urlencoded", "application/json", id="form"
        ),
        pytest.param(b"", "application/json", "not valid JSON", id="empty"),
    ],
)
async def test_unusable_bodies_are_invalid_client_metadata(
    server: Server, content: bytes, content_type: str, error: str
) -> None:
    response = await server.browser.post(
        f"{server.base}/register", content=content, headers={"Content-Type": content_type}
    )
    assert_error(response, 400, "invalid_client_metadata")
    assert error in response.json()["error_description"]


async def test_bodies_over_16_kib_are_refused(server: Server) -> None:
    padding = "x" * (16 * 1024)
    response = await register(server, mcp_client(software_statement=padding))
    assert_error(response, 400, "invalid_client_metadata")
    assert "16384 bytes" in response.json()["error_description"]
    assert not any(c.dynamic for c in server.storage.clients.values())

    just_under = mcp_client(padding="y" * (16 * 1024 - 300))
    assert len(json.dumps(just_under)) <= 16 * 1024
    assert (await register(server, just_under)).status_code == 201


async def test_a_bad_redirect_uri_is_invalid_redirect_uri(server: Server) -> None:
    response = await register(server, mcp_client(redirect_uris=["javascript:alert(1)"]))
    assert_error(response, 400, "invalid_redirect_uri")


async def test_registrations_are_rate_limited_per_address(server: Server) -> None:
    for n in range(20):
        answer = await register(server, mcp_client(client_name=f"c{n}"))
        assert answer.status_code == 201, (n, answer.text)

    server.clock.advance(600)
    limited = await register(server, mcp_client())
    assert_error(limited, 429, "temporarily_unavailable")
    assert limited.headers["retry-after"] == str(3600 - 600)
    assert sum(c.dynamic for c in server.storage.clients.values()) == 20

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app, client=("10.9.8.7", 1234)),
        base_url=server.origin,
    ) as elsewhere:
        other = await elsewhere.post(f"{server.base}/register", json=mcp_client())
    assert other.status_code == 201  # the limit is per address

    server.clock.advance(3000)
    assert (await register(server, mcp_client())).status_code == 201


async def test_refused_registrations_count_towards_the_limit(server: Server) -> None:
    for _ in range(20):
        assert_error(await register(server, {"redirect_uris": []}), 400, "invalid_redirect_uri")
    assert_error(await register(server, mcp_client()), 429, "temporarily_unavailable")


async def test_registration_is_audited(server: Server) -> None:
    body = await registered(server, mcp_client())
    await register(server, mcp_client(grant_types=["implicit"]))
    await server.browser.post(
        f"{server.base}/register", content=b"{", headers={"Content-Type": "application/json"}
    )

    events = [e for e in await server.storage.list_audit() if e.event == "client_registered"]
    assert [(e.outcome, e.client_id) for e in events] == [
        ("success", body["client_id"]),
        ("failure", None),
        ("failure", None),
    ]
    assert events[1].detail.startswith("invalid_client_metadata: grant_types")
    assert events[2].detail.startswith("invalid_client_metadata: the request body is not valid")
    assert all(e.address == "127.0.0.1" for e in events)


async def test_browser_clients_may_register_cross_origin(server: Server) -> None:
    preflight = await server.browser.options(
        f"{server.base}/register",
        headers={
            "Origin": "https://web-client.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    response = await register(server, mcp_client(), headers={"Origin": "https://web.example"})
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "*"


async def test_a_private_key_jwt_client_is_stored_with_its_keys(server: Server) -> None:
    body = await registered(
        server,
        {
            "redirect_uris": [WEB_REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://registered.example.com/jwks.json",
            "grant_types": ["authorization_code", "client_credentials"],
        },
    )
    assert "client_secret" not in body
    stored = server.storage.clients[ClientId(body["client_id"])]
    assert stored.token_endpoint_auth_method is AuthMethod.PRIVATE_KEY_JWT
    assert stored.jwks_uri == "https://registered.example.com/jwks.json"
    assert stored.secret_hash is None
