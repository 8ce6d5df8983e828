"""The introspection endpoint over HTTP (RFC 7662): who may ask, the answers, the errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ..helpers import (
    BASIC_ID,
    BASIC_SECRET,
    POST_ID,
    POST_SECRET,
    PUBLIC_ID,
    Server,
    basic_auth,
)

INACTIVE = {"active": False}


def resource_server_auth() -> dict[str, str]:
    return {"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)}


async def introspect(
    server: Server, form: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await server.browser.post(
        f"{server.base}/introspect",
        data=form,
        headers=resource_server_auth() if headers is None else headers,
    )


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error


async def test_an_active_access_token(any_server: Server) -> None:
    server = any_server
    tokens = await server.tokens()
    now = server.clock.now()

    body = answer(await introspect(server, {"token": tokens["access_token"]}))

    assert body == {
        "active": True,
        "scope": "tools:read tools:execute",
        "client_id": PUBLIC_ID,
        "sub": "user-alice",
        "aud": server.resource,
        "iss": server.issuer,
        "exp": now + 3600,
        "iat": now,
        "jti": body["jti"],
        "token_type": "Bearer",
    }
    assert isinstance(body["jti"], str) and body["jti"]


async def test_an_active_refresh_token(server: Server) -> None:
    tokens = await server.tokens()
    now = server.clock.now()

    body = answer(
        await introspect(
            server, {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
        )
    )

    assert body == {
        "active": True,
        "scope": "tools:read tools:execute",
        "client_id": PUBLIC_ID,
        "sub": "user-alice",
        "aud": server.resource,
        "iss": server.issuer,
        "exp": now + 30 * 24 * 3600,
        "iat": now,
        "token_type": "refresh_token",
    }


async def test_client_secret_post_works_too(server: Server) -> None:
    tokens = await server.tokens()

    response = await introspect(
        server,
        {"token": tokens["access_token"], "client_id": POST_ID, "client_secret": POST_SECRET},
        headers={},
    )

    assert answer(response)["active"] is True


async def test_after_revocation_both_tokens_are_exactly_inactive(server: Server) -> None:
    tokens = await server.tokens()
    revoked = await server.browser.post(
        "/revoke", data={"token": tokens["refresh_token"], "client_id": PUBLIC_ID}
    )
    assert revoked.status_code == 200

    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = await introspect(server, {"token": token})
        assert answer(response) == INACTIVE
        assert response.content == b'{"active":false}'


async def test_an_expired_access_token_is_inactive(server: Server) -> None:
    tokens = await server.tokens()
    server.clock.advance(3600)

    assert answer(await introspect(server, {"token": tokens["access_token"]})) == INACTIVE
    assert answer(await introspect(server, {"token": tokens["refresh_token"]}))["active"]


async def test_a_rotated_refresh_token_is_inactive(server: Server) -> None:
    tokens = await server.tokens()
    assert (await server.refresh(tokens["refresh_token"])).status_code == 200

    assert answer(await introspect(server, {"token": tokens["refresh_token"]})) == INACTIVE


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
async def test_unknown_tokens_are_inactive(server: Server, token: str) -> None:
    assert answer(await introspect(server, {"token": token})) == INACTIVE


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        pytest.param(
            {"token": "t", "client_id": PUBLIC_ID}, {}, 401, "invalid_client", id="public-client"
        ),
        pytest.param({"token": "t"}, {}, 401, "invalid_client", id="no-credentials"),
        pytest.param(
            {"token": "t"},
            {"Authorization": basic_auth(BASIC_ID, "wrong")},
            401,
            "invalid_client",
            id="wrong-secret",
        ),
        pytest.param(
            {"token": "t"},
            {"Authorization": basic_auth("nobody", "x")},
            401,
            "invalid_client",
            id="unknown-client",
        ),
        pytest.param(
            {"token": "t", "client_id": POST_ID, "client_secret": "wrong"},
            {},
            401,
            "invalid_client",
            id="wrong-post-secret",
        ),
        pytest.param(
            {"token": "t", "token_type_hint": "id_token"},
            None,
            400,
            "unsupported_token_type",
            id="unknown-hint",
        ),
        pytest.param({}, None, 400, "invalid_request", id="no-token"),
    ],
)
async def test_refusals(
    server: Server,
    form: dict[str, str],
    headers: dict[str, str] | None,
    status: int,
    error: str,
) -> None:
    response = await introspect(server, form, headers)

    assert_error(response, status, error)
    if status == 401:
        assert response.headers["www-authenticate"] == 'Basic realm="ostiary"'


async def test_a_public_client_cannot_introspect_its_own_token(server: Server) -> None:
    tokens = await server.tokens()

    response = await introspect(
        server, {"token": tokens["access_token"], "client_id": PUBLIC_ID}, {}
    )

    assert_error(response, 401, "invalid_client")
    assert "active" not in response.json()


async def test_get_is_a_json_405(server: Server) -> None:
    assert_error(await server.browser.get("/introspect"), 405, "invalid_request")


async def test_the_body_must_be_a_form(server: Server) -> None:
    response = await server.browser.post(
        "/introspect", json={"token": "t"}, headers=resource_server_auth()
    )
    assert_error(response, 400, "invalid_request")
