"""The revocation endpoint over HTTP (RFC 7009): the empty 200, the errors, CORS, the audit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ..helpers import (
    BASIC_ID,
    BASIC_SECRET,
    PUBLIC_ID,
    SERVICE_REDIRECT,
    WEB_ID,
    WEB_REDIRECT,
    Server,
    basic_auth,
    pkce_pair,
)

ORIGIN = {"Origin": "https://inspector.example"}


async def revoke(
    server: Server, form: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await server.browser.post(f"{server.base}/revoke", data=form, headers=headers)


def assert_revoked_answer(response: httpx.Response) -> None:
    """RFC 7009 §2.2: 200 and no content; never cached."""
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error


async def refresh_error(server: Server, refresh_token: str, client_id: str = PUBLIC_ID) -> str:
    response = await server.refresh(refresh_token, client_id)
    assert response.status_code == 400, response.text
    error: str = response.json()["error"]
    return error


async def basic_client_tokens(server: Server) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=BASIC_ID, redirect_uri=SERVICE_REDIRECT
    )
    response = await server.redeem(
        code,
        verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
async def test_a_public_client_revokes_its_refresh_token(
    any_server: Server, hint: str | None
) -> None:
    server = any_server
    tokens = await server.tokens()
    form = {"token": tokens["refresh_token"], "client_id": PUBLIC_ID}
    if hint is not None:
        form["token_type_hint"] = hint

    assert_revoked_answer(await revoke(server, form))

    assert await refresh_error(server, tokens["refresh_token"]) == "invalid_grant"


async def test_revoking_the_access_token_ends_the_grant(server: Server) -> None:
    tokens = await server.tokens()

    response = await revoke(server, {"token": tokens["access_token"], "client_id": PUBLIC_ID})

    assert_revoked_answer(response)
    assert await refresh_error(server, tokens["refresh_token"]) == "invalid_grant"
    (grant,) = await server.storage.list_grants(include_revoked=True)
    assert grant.revoked_at == server.clock.now()


async def test_a_confidential_client_revokes_with_basic_credentials(server: Server) -> None:
    tokens = await basic_client_tokens(server)

    response = await revoke(
        server,
        {"token": tokens["refresh_token"]},
        {"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )

    assert_revoked_answer(response)
    (grant,) = await server.storage.list_grants(include_revoked=True)
    assert grant.revoked_at is not None


async def test_revocation_is_written_to_the_audit_trail(server: Server) -> None:
    tokens = await server.tokens()

    await revoke(server, {"token": tokens["refresh_token"], "client_id": PUBLIC_ID})

    (grant,) = await server.storage.list_grants(include_revoked=True)
    revoked = [e for e in await server.storage.list_audit() if e.event == "token_revoked"]
    assert [(e.outcome, e.client_id, e.grant_id, e.detail) for e in revoked] == [
        ("success", PUBLIC_ID, grant.grant_id, "refresh_token")
    ]
    assert revoked[0].address is not None


@pytest.mark.parametrize("token", ["unknown-token", "a.b.c", "x" * 4096])
async def test_unknown_tokens_get_the_same_empty_200(server: Server, token: str) -> None:
    tokens = await server.tokens()

    assert_revoked_answer(await revoke(server, {"token": token, "client_id": PUBLIC_ID}))

    assert (await server.refresh(tokens["refresh_token"])).status_code == 200
    assert not [e for e in await server.storage.list_audit() if e.event == "token_revoked"]


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_another_clients_token_gets_a_200_and_stays_valid(server: Server, kind: str) -> None:
    tokens = await server.tokens()

    response = await revoke(server, {"token": tokens[kind], "client_id": WEB_ID})

    assert_revoked_answer(response)
    assert (await server.refresh(tokens["refresh_token"])).status_code == 200


async def test_revoking_twice_is_fine(server: Server) -> None:
    tokens = await server.tokens()
    form = {"token": tokens["refresh_token"], "client_id": PUBLIC_ID}

    assert_revoked_answer(await revoke(server, form))
    assert_revoked_answer(await revoke(server, form))


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        pytest.param(
            {"token": "t", "client_id": PUBLIC_ID, "token_type_hint": "id_token"},
            None,
            400,
            "unsupported_token_type",
            id="unknown-hint",
        ),
        pytest.param({"client_id": PUBLIC_ID}, None, 400, "invalid_request", id="no-token"),
        pytest.param({"token": "t"}, None, 401, "invalid_client", id="no-client"),
        pytest.param(
            {"token": "t", "client_id": "nobody"}, None, 401, "invalid_client", id="unknown-client"
        ),
        pytest.param(
            {"token": "t"},
            {"Authorization": basic_auth(BASIC_ID, "wrong")},
            401,
            "invalid_client",
            id="wrong-secret",
        ),
        pytest.param(
            {"token": "t", "client_id": BASIC_ID},
            None,
            401,
            "invalid_client",
            id="confidential-without-secret",
        ),
        pytest.param(
            {"token": "t"},
            {"Authorization": "Bearer abc"},
            401,
            "invalid_client",
            id="bearer-instead-of-basic",
        ),
    ],
)
async def test_refusals(
    server: Server, form: dict[str, str], headers: dict[str, str] | None, status: int, error: str
) -> None:
    response = await revoke(server, form, headers)

    assert_error(response, status, error)
    if status == 401:
        assert response.headers["www-authenticate"] == 'Basic realm="ostiary"'


async def test_the_body_must_be_a_form(server: Server) -> None:
    response = await server.browser.post("/revoke", json={"token": "t", "client_id": PUBLIC_ID})
    assert_error(response, 400, "invalid_request")


async def test_get_is_a_json_405(server: Server) -> None:
    response = await server.browser.get("/revoke")
    assert_error(response, 405, "invalid_request")


async def test_cors_like_the_token_endpoint(any_server: Server) -> None:
    server = any_server
    preflight = await server.browser.options(
        f"{server.base}/revoke",
        headers={**ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"

    response = await revoke(server, {"token": "t", "client_id": PUBLIC_ID}, ORIGIN)
    assert_revoked_answer(response)
    assert response.headers["access-control-allow-origin"] == "*"


async def test_the_web_client_revokes_its_own_token(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=WEB_ID, redirect_uri=WEB_REDIRECT
    )
    redeemed = await server.redeem(code, verifier, client_id=WEB_ID, redirect_uri=WEB_REDIRECT)
    tokens = redeemed.json()

    assert_revoked_answer(
        await revoke(server, {"token": tokens["access_token"], "client_id": WEB_ID})
    )

    assert await refresh_error(server, tokens["refresh_token"], WEB_ID) == "invalid_grant"
