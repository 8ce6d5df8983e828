"""The token endpoint over HTTP: form parsing, client authentication, grants, error shape."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from ostiary.core.models import ClientId
from ostiary.storage.memory import MemoryStorage

from ..helpers import (
    BASIC_ID,
    BASIC_SECRET,
    ISSUER,
    POST_ID,
    POST_SECRET,
    RESOURCE,
    SERVICE_REDIRECT,
    Server,
    basic_auth,
    pkce_pair,
    running,
)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert set(body) <= {"error", "error_description"}
    return body


def assert_tokens(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer"
    return body


async def service_code(server: Server, client_id: str) -> tuple[str, str]:
    """A code for a confidential client (redirecting to ``SERVICE_REDIRECT``) and its verifier."""
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=client_id, redirect_uri=SERVICE_REDIRECT
    )
    return code, verifier


async def test_success_is_json_and_no_store(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)

    body = assert_tokens(await server.redeem(code, verifier))

    assert body["scope"] == "tools:read tools:execute"
    assert body["expires_in"] == 3600


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"grant_type": "authorization_code"}', "application/json"),
        (b"grant_type=authorization_code", "text/plain"),
        (b"grant_type=authorization_code", None),
        (
            b"--x\r\nContent-Disposition: form-data; name=grant_type\r\n\r\nx\r\n--x--",
            "multipart/form-data; boundary=x",
        ),
    ],
)
async def test_a_body_that_is_not_a_form_is_invalid_request(
    server: Server, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = await server.browser.post("/token", content=content, headers=headers)

    body = assert_oauth_error(response, 400, "invalid_request")
    assert "application/x-www-form-urlencoded" in body["error_description"]


async def test_form_content_type_parameters_are_accepted(server: Server) -> None:
    response = await server.browser.post(
        "/token",
        content=b"grant_type=password",
        headers={"Content-Type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"},
    )

    assert_oauth_error(response, 400, "unsupported_grant_type")


async def test_an_oversized_body_is_refused(server: Server) -> None:
    form = {"grant_type": "authorization_code", "code": "x" * (70 * 1024), "client_id": "p"}

    response = await server.token(form)

    body = assert_oauth_error(response, 400, "invalid_request")
    assert body["error_description"] == "the request body is too large"


async def test_a_body_that_is_not_utf8_is_refused(server: Server) -> None:
    response = await server.browser.post(
        "/token",
        content=b"grant_type=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert_oauth_error(response, 400, "invalid_request")


async def test_client_secret_basic_with_a_secret_needing_urlencoding(server: Server) -> None:
    code, verifier = await service_code(server, BASIC_ID)

    response = await server.redeem(
        code,
        verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )

    assert_tokens(response)


async def test_client_secret_post(server: Server) -> None:
    code, verifier = await service_code(server, POST_ID)

    response = await server.redeem(
        code,
        verifier,
        client_id=POST_ID,
        redirect_uri=SERVICE_REDIRECT,
        client_secret=POST_SECRET,
    )

    assert_tokens(response)


async def test_refresh_with_client_secret_basic(server: Server) -> None:
    code, verifier = await service_code(server, BASIC_ID)
    auth = {"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)}
    first = assert_tokens(
        await server.redeem(code, verifier, redirect_uri=SERVICE_REDIRECT, headers=auth)
    )

    response = await server.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth
    )

    assert assert_tokens(response)["refresh_token"] != first["refresh_token"]


@pytest.mark.parametrize(
    "secret",
    [
        "wrong",
        "a b:c%",  # what a server that forgot to form-decode would compare against
        "a%2Bb%3Ac%25",  # the encoded form itself
    ],
)
async def test_wrong_basic_secret_is_401_with_a_challenge(server: Server, secret: str) -> None:
    code, verifier = await service_code(server, BASIC_ID)

    response = await server.redeem(
        code,
        verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, secret)},
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="ostiary"'
    # The code was not spent by the failed attempt.
    retry = await server.redeem(
        code,
        verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )
    assert_tokens(retry)


@pytest.mark.parametrize(
    "form",
    [
        {"client_id": POST_ID, "client_secret": "wrong"},
        {"client_id": POST_ID},  # a confidential client without its secret
        {"client_id": "no-such-client", "client_secret": POST_SECRET},
        {},  # nobody at all
    ],
)
async def test_failed_client_authentication_is_401(server: Server, form: dict[str, str]) -> None:
    response = await server.token(
        {"grant_type": "authorization_code", "code": "c", "code_verifier": "v" * 43, **form}
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="ostiary"'


@pytest.mark.parametrize(
    "authorization", ["Bearer abc", "Basic !!!not-base64!!!", "Basic " + "bm9jb2xvbg=="]
)
async def test_malformed_authorization_header_is_401(server: Server, authorization: str) -> None:
    response = await server.token(
        {"grant_type": "authorization_code", "code": "c"}, {"Authorization": authorization}
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert "www-authenticate" in response.headers


async def test_basic_and_client_secret_post_together_is_invalid_request(server: Server) -> None:
    code, verifier = await service_code(server, BASIC_ID)

    response = await server.redeem(
        code,
        verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
        client_secret=BASIC_SECRET,
    )

    body = assert_oauth_error(response, 400, "invalid_request")
    assert body["error_description"] == "use only one client authentication method"


async def test_unknown_grant_type(server: Server) -> None:
    response = await server.token({"grant_type": "password", "client_id": "public-app"})

    body = assert_oauth_error(response, 400, "unsupported_grant_type")
    assert body["error_description"] == "grant_type password is not supported"


async def test_missing_grant_type(server: Server) -> None:
    response = await server.token({"client_id": "public-app"})

    assert_oauth_error(response, 400, "invalid_request")


async def test_wrong_code_verifier_is_invalid_grant(server: Server) -> None:
    _, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)
    other_verifier, _ = pkce_pair()

    response = await server.redeem(code, other_verifier)

    assert_oauth_error(response, 400, "invalid_grant")


async def test_refresh_round_trip(server: Server) -> None:
    first = await server.tokens(["tools:read", "tools:execute"])

    second = assert_tokens(await server.refresh(first["refresh_token"]))

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "tools:read tools:execute"
    narrowed = await server.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": second["refresh_token"],
            "client_id": "public-app",
            "scope": "tools:read",
        }
    )
    assert assert_tokens(narrowed)["scope"] == "tools:read"


async def test_refresh_token_reuse_after_the_grace_window_revokes_the_grant(
    server: Server,
) -> None:
    first = await server.tokens()
    second = assert_tokens(await server.refresh(first["refresh_token"]))
    server.clock.advance(11)  # past the 10 s grace window

    replay = await server.refresh(first["refresh_token"])

    assert_oauth_error(replay, 400, "invalid_grant")
    assert_oauth_error(await server.refresh(second["refresh_token"]), 400, "invalid_grant")


async def test_a_reused_code_is_refused_and_revokes_the_first_tokens(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)
    first = assert_tokens(await server.redeem(code, verifier))

    again = await server.redeem(code, verifier)

    body = assert_oauth_error(again, 400, "invalid_grant")
    assert body["error_description"] == "authorization code was already used or revoked"
    assert_oauth_error(await server.refresh(first["refresh_token"]), 400, "invalid_grant")


async def test_a_code_belongs_to_its_client(server: Server) -> None:
    code, verifier = await service_code(server, POST_ID)

    response = await server.redeem(
        code,
        verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )

    assert_oauth_error(response, 400, "invalid_grant")


class FailingStorage(MemoryStorage):
    """Memory storage whose client lookups break, as a lost database connection would."""

    fail = False

    async def get_client(self, client_id: ClientId) -> Any:
        if self.fail:
            raise RuntimeError("database exploded: password=hunter2 at /srv/db.sqlite3")
        return await super().get_client(client_id)


async def test_an_unexpected_exception_is_a_bare_server_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = FailingStorage()
    async with running(ISSUER, RESOURCE, storage) as server:
        storage.fail = True
        with caplog.at_level(logging.ERROR, logger="ostiary.server"):
            response = await server.token(
                {"grant_type": "authorization_code", "code": "c", "client_id": "public-app"}
            )

    assert response.status_code == 500
    assert response.content == b'{"error":"server_error"}'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["access-control-allow-origin"] == "*"
    # The details went to the log, and only there.
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError]
    for leak in (b"Traceback", b"RuntimeError", b"hunter2", b"/srv/"):
        assert leak not in response.content


async def test_get_on_the_token_endpoint_is_a_json_405(server: Server) -> None:
    response = await server.browser.get("/token")
    assert response.status_code == 405
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


async def test_unknown_page_is_an_html_404(server: Server) -> None:
    response = await server.browser.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
