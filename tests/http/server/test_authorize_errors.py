"""Authorization request errors: an error page when the client is unverified, else a redirect.

And the login page's ``next`` never leads anywhere but back to this server.
"""

from __future__ import annotations

import pytest

from ..helpers import (
    CSRF_FIELD,
    LOOPBACK_REDIRECT,
    NEXT_FIELD,
    ODD_STATE,
    PASSWORD,
    PUBLIC_ID,
    USERNAME,
    WEB_ID,
    WEB_REDIRECT,
    Server,
    field,
    pkce_pair,
    query_of,
    single,
)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_id": "no-such-client"}, "unknown client_id"),
        ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri is not registered"),
        ({"redirect_uri": "http://127.0.0.1:33418/other"}, "redirect_uri is not registered"),
        ({"redirect_uri": "http://localhost:33418/callback"}, "redirect_uri is not registered"),
        ({"redirect_uri": LOOPBACK_REDIRECT + "#frag"}, "redirect_uri is not registered"),
    ],
)
async def test_unverified_client_or_redirect_gets_an_error_page_not_a_redirect(
    any_server: Server, overrides: dict[str, str], message: str
) -> None:
    server = any_server
    _, challenge = pkce_pair()
    params = {**server.authorize_params(challenge), **overrides}

    response = await server.authorize(params)

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert message in response.text
    assert "invalid_request" in response.text
    assert "evil.example" not in response.text


async def test_missing_client_id_is_an_error_page(server: Server) -> None:
    _, challenge = pkce_pair()
    params = server.authorize_params(challenge)
    del params["client_id"]

    response = await server.authorize(params)

    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_client_with_several_uris_must_name_one(server: Server) -> None:
    _, challenge = pkce_pair()

    response = await server.authorize(
        server.authorize_params(challenge, client_id=WEB_ID, redirect_uri=None)
    )

    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri is required" in response.text


async def test_any_loopback_port_matches_the_registered_uri(server: Server) -> None:
    """RFC 8252 §7.3: native apps get an ephemeral port."""
    _, challenge = pkce_pair()
    params = server.authorize_params(challenge, redirect_uri="http://127.0.0.1:51234/callback")

    response = await server.authorize(params)

    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("overrides", "error", "description"),
    [
        ({"code_challenge": ""}, "invalid_request", "code_challenge is required (PKCE)"),
        ({"code_challenge_method": "plain"}, "invalid_request", "must be S256"),
        ({"response_type": "token"}, "unsupported_response_type", "only response_type=code"),
        ({"scope": "tools:read admin"}, "invalid_scope", "scope not allowed: admin"),
        ({"resource": "https://elsewhere.example/mcp"}, "invalid_target", "not protected"),
    ],
)
async def test_errors_after_the_redirect_is_verified_go_back_to_the_client(
    any_server: Server, overrides: dict[str, str], error: str, description: str
) -> None:
    server = any_server
    _, challenge = pkce_pair()
    params = {**server.authorize_params(challenge, state=ODD_STATE), **overrides}
    params = {k: v for k, v in params.items() if v != ""}

    response = await server.authorize(params)

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(LOOPBACK_REDIRECT + "?")
    query = query_of(location)
    assert single(query, "error") == error
    assert description in single(query, "error_description")
    assert single(query, "state") == ODD_STATE
    assert single(query, "iss") == server.issuer
    assert "code" not in query


async def test_missing_pkce_is_reported_at_the_redirect_uri(server: Server) -> None:
    params = {
        "response_type": "code",
        "client_id": PUBLIC_ID,
        "redirect_uri": LOOPBACK_REDIRECT,
        "state": "abc",
    }

    response = await server.authorize(params)

    assert response.status_code == 302
    assert response.headers["location"] == (
        f"{LOOPBACK_REDIRECT}?error=invalid_request"
        "&error_description=code_challenge+is+required+%28PKCE%29"
        "&state=abc&iss=http%3A%2F%2F127.0.0.1%3A8000"
    )


async def test_errors_keep_the_redirect_uris_own_query(server: Server) -> None:
    _, challenge = pkce_pair()
    params = server.authorize_params(
        challenge, client_id=WEB_ID, redirect_uri=WEB_REDIRECT, response_type="token"
    )

    response = await server.authorize(params)

    assert response.status_code == 302
    assert response.headers["location"].startswith(WEB_REDIRECT + "?error=")


OFFSITE = [
    "https://evil.example/",
    "//evil.example/authorize?x=1",
    "/\\evil.example/authorize?x=1",
    "https://evil.example/authorize?client_id=public-app",
    "/authorize@evil.example",
    "javascript:alert(1)",
    "/login?next=https://evil.example/",
    "/%2F%2Fevil.example/authorize?x",
]


@pytest.mark.parametrize("next_url", OFFSITE)
async def test_login_never_redirects_off_site(server: Server, next_url: str) -> None:
    page = await server.login_page(next_url)
    assert field(NEXT_FIELD, page.text) == "/"

    response = await server.login(next_url)

    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("next_url", OFFSITE)
async def test_a_forged_next_field_is_also_ignored(server: Server, next_url: str) -> None:
    """The form's hidden field is checked again on POST, not just the query on GET."""
    page = await server.login_page()
    form = {
        "csrf_token": field(CSRF_FIELD, page.text),
        "next": next_url,
        "username": USERNAME,
        "password": PASSWORD,
    }
    response = await server.browser.post("/login", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_a_path_issuer_only_returns_under_its_own_path(tenant: Server) -> None:
    response = await tenant.login("/authorize?client_id=public-app")

    assert response.status_code == 303
    assert response.headers["location"] == "/tenant1/"
