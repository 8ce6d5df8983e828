"""The browser side, request by request: authorize, login, consent, redirect back, tokens."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ostiary.core.models import Client, ClientId

from ..helpers import (
    CSRF_FIELD,
    ISSUER,
    LOOPBACK_REDIRECT,
    NEXT_FIELD,
    ODD_STATE,
    PUBLIC_NAME,
    RESOURCE,
    SCOPE_BOX,
    SCOPE_TEXT,
    USER_ID,
    USERNAME,
    WEB_ID,
    WEB_NAME,
    WEB_REDIRECT,
    Server,
    field,
    pkce_pair,
    query_of,
    running,
    set_cookies,
    single,
)

WRONG = "Wrong username or password."


async def signed_in_consent_page(
    server: Server, **params: str
) -> tuple[httpx.Response, dict[str, str]]:
    """Sign in, then GET /authorize; returns the consent page and the request used."""
    _, challenge = pkce_pair()
    request = server.authorize_params(challenge, **params)
    login = await server.login(f"{server.base}/authorize")
    assert login.status_code == 303
    page = await server.authorize(request)
    assert page.status_code == 200, page.text
    return page, request


async def test_authorize_without_a_session_redirects_to_login(any_server: Server) -> None:
    server = any_server
    _, challenge = pkce_pair()
    response = await server.authorize(server.authorize_params(challenge, state=ODD_STATE))

    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert location.startswith(f"{server.base}/login?next=")
    next_url = single(query_of(location), "next")
    assert next_url.startswith(f"{server.base}/authorize?")
    # The whole authorization request survives the trip through the login page.
    assert query_of(next_url) == {k: [v] for k, v in server.authorize_params(challenge).items()} | {
        "state": [ODD_STATE]
    }


async def test_login_page_carries_a_csrf_token_and_the_next_url(server: Server) -> None:
    next_url = "/authorize?client_id=public-app&x=1"
    response = await server.login_page(next_url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    token = field(CSRF_FIELD, response.text)
    assert len(token) >= 32
    assert field(NEXT_FIELD, response.text) == next_url
    cookies = set_cookies(response)
    assert cookies["ostiary_csrf"]["value"] == token
    assert "httponly" in cookies["ostiary_csrf"]
    assert f"to continue to <strong>{PUBLIC_NAME}</strong>" in response.text


async def test_wrong_password_is_refused_with_the_error_text(server: Server) -> None:
    response = await server.login("/authorize?client_id=public-app", password="not the password")

    assert response.status_code == 400
    assert WRONG in response.text
    assert f'value="{USERNAME}"' in response.text  # the username is kept, the password not
    assert "not the password" not in response.text
    assert "ostiary_session" not in set_cookies(response)


async def test_unknown_user_gets_the_same_answer(server: Server) -> None:
    response = await server.login(username="mallory")

    assert response.status_code == 400
    assert WRONG in response.text
    assert "ostiary_session" not in set_cookies(response)


async def test_login_sets_an_httponly_lax_session_cookie_over_http(server: Server) -> None:
    next_url = "/authorize?client_id=public-app&response_type=code"
    response = await server.login(next_url)

    assert response.status_code == 303
    assert response.headers["location"] == next_url
    cookies = set_cookies(response)
    assert not any(name.startswith("__Host-") for name in cookies)
    session = cookies["ostiary_session"]
    assert "httponly" in session
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert "secure" not in session  # plain http on loopback: a Secure cookie would be dropped
    assert int(session["max-age"]) > 0


async def test_login_cookies_are_secure_and_host_prefixed_over_https(tenant: Server) -> None:
    response = await tenant.login("/tenant1/authorize?client_id=public-app")

    assert response.status_code == 303
    assert response.headers["location"] == "/tenant1/authorize?client_id=public-app"
    cookies = set_cookies(response)
    assert set(cookies) == {"__Host-ostiary_session", "__Host-ostiary_csrf"}
    for cookie in cookies.values():
        assert "secure" in cookie
        assert "httponly" in cookie
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/"  # required by the __Host- prefix
        assert "domain" not in cookie  # likewise


async def test_consent_page_shows_client_redirect_host_and_scopes(server: Server) -> None:
    response, _ = await signed_in_consent_page(
        server, scope="tools:read resources:write prompts:read"
    )
    page = response.text

    assert f"<strong>{PUBLIC_NAME}</strong> wants to access your account" in page
    assert f"Signed in as <strong>{USERNAME}</strong>" in page
    assert '<strong class="host">127.0.0.1</strong>' in page
    assert "This application runs on your own computer (127.0.0.1)" in page
    assert SCOPE_BOX.findall(page) == ["tools:read", "resources:write", "prompts:read"]
    for scope in ["tools:read", "resources:write", "prompts:read"]:
        assert f"<span>{SCOPE_TEXT[scope]}</span> <code>{scope}</code>" in page
    for scope in ["tools:execute", "resources:read"]:
        assert SCOPE_TEXT[scope] not in page
    assert f"<code>{server.resource}</code>" in page


async def test_consent_page_for_an_https_redirect_has_no_localhost_warning(
    server: Server,
) -> None:
    response, _ = await signed_in_consent_page(server, client_id=WEB_ID, redirect_uri=WEB_REDIRECT)
    page = response.text

    assert f"<strong>{WEB_NAME}</strong>" in page
    assert '<strong class="host">app.example.com</strong>' in page
    assert "runs on your own computer" not in page


async def test_consent_page_escapes_the_client_name(server: Server) -> None:
    await server.storage.save_client(
        Client(ClientId("xss"), '<script>alert("x")</script>', (WEB_REDIRECT,))
    )
    response, _ = await signed_in_consent_page(server, client_id="xss", redirect_uri=WEB_REDIRECT)
    page = response.text

    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


async def test_approving_a_subset_redirects_with_code_state_and_iss(any_server: Server) -> None:
    server = any_server
    verifier, challenge = pkce_pair()
    request = server.authorize_params(
        challenge, scope="tools:read tools:execute resources:read", state=ODD_STATE
    )
    await server.login()
    page = await server.authorize(request)
    assert page.status_code == 200

    response = await server.decide(page, scopes=["tools:read", "resources:read"])

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(LOOPBACK_REDIRECT + "?")
    query = query_of(location)
    assert set(query) == {"code", "state", "iss"}
    assert single(query, "state") == ODD_STATE  # byte for byte, odd characters included
    assert single(query, "iss") == server.issuer
    token = await server.redeem(single(query, "code"), verifier)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "tools:read resources:read"


async def test_consent_is_remembered_for_the_same_scopes(server: Server) -> None:
    page, request = await signed_in_consent_page(server, scope="tools:read tools:execute")
    first = await server.decide(page, scopes=["tools:read", "tools:execute"])
    assert first.status_code == 303

    verifier, challenge = pkce_pair()
    again = await server.authorize({**request, "code_challenge": challenge, "state": "second"})

    assert again.status_code == 302  # straight back, no consent page
    query = query_of(again.headers["location"])
    assert single(query, "state") == "second"
    assert single(query, "iss") == server.issuer
    token = await server.redeem(single(query, "code"), verifier)
    assert token.status_code == 200
    assert token.json()["scope"] == "tools:read tools:execute"
    consent = await server.storage.get_consent(USER_ID, ClientId(request["client_id"]))
    assert consent is not None
    assert consent.scopes == {"tools:read", "tools:execute"}


async def test_remembered_consent_does_not_cover_more_scopes(server: Server) -> None:
    page, request = await signed_in_consent_page(server, scope="tools:read tools:execute")
    await server.decide(page, scopes=["tools:read"])  # one box unticked

    for scope in ["tools:read tools:execute", "tools:read prompts:read"]:
        again = await server.authorize({**request, "scope": scope})
        assert again.status_code == 200, scope
        assert "wants to access your account" in again.text
    narrower = await server.authorize({**request, "scope": "tools:read"})
    assert narrower.status_code == 302
    assert "code" in query_of(narrower.headers["location"])


async def test_deny_redirects_with_access_denied_state_and_iss(any_server: Server) -> None:
    server = any_server
    page, _ = await signed_in_consent_page(server, state=ODD_STATE)

    response = await server.decide(page, decision="deny")

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(LOOPBACK_REDIRECT + "?")
    query = query_of(location)
    assert single(query, "error") == "access_denied"
    assert single(query, "state") == ODD_STATE
    assert single(query, "iss") == server.issuer
    assert "code" not in query
    assert server.storage.codes == {}
    assert await server.storage.get_consent(USER_ID, ClientId("public-app")) is None


async def test_approving_with_no_scope_ticked_is_a_denial(server: Server) -> None:
    page, _ = await signed_in_consent_page(server)

    response = await server.decide(page, scopes=[])

    assert response.status_code == 303
    assert single(query_of(response.headers["location"]), "error") == "access_denied"
    assert server.storage.codes == {}


async def test_a_scope_the_request_did_not_ask_for_cannot_be_added(server: Server) -> None:
    page, _ = await signed_in_consent_page(server, scope="tools:read")

    response = await server.decide(page, scopes=["tools:read", "resources:write"])

    assert response.status_code == 303
    code = single(query_of(response.headers["location"]), "code")
    record = next(iter(server.storage.codes.values()))
    assert record.scopes == {"tools:read"}
    assert code  # the code exists, for the requested scope only


async def test_logout_ends_the_session(server: Server) -> None:
    await server.login()
    home = await server.browser.get("/")
    assert f"Signed in as <strong>{USERNAME}</strong>" in home.text

    response = await server.browser.post(
        "/logout", data={"csrf_token": field(CSRF_FIELD, home.text)}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    _, challenge = pkce_pair()
    again = await server.authorize(server.authorize_params(challenge))
    assert again.status_code == 302
    assert again.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("decision", ["approve", "deny"])
async def test_consent_without_a_session_goes_back_to_login(server: Server, decision: str) -> None:
    page, request = await signed_in_consent_page(server)
    server.browser.cookies.delete("ostiary_session")

    response = await server.decide(page, decision=decision)

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=" + quote("/authorize?", safe=""))
    assert query_of(single(query_of(location), "next")) == {k: [v] for k, v in request.items()}
    assert server.storage.codes == {}


async def test_a_session_cookie_from_another_server_is_ignored(server: Server) -> None:
    """The cookie is signed with a key derived from the server secret; another secret fails."""
    async with running(ISSUER, RESOURCE) as other:
        assert (await other.login()).status_code == 303
        foreign = other.browser.cookies["ostiary_session"]
    _, challenge = pkce_pair()
    params = server.authorize_params(challenge)

    for value in [foreign, foreign[:-2] + "xx", "garbage"]:
        async with server.new_browser() as browser:
            response = await browser.get(
                "/authorize", params=params, headers={"Cookie": f"ostiary_session={value}"}
            )
        assert response.status_code == 302, value
        assert response.headers["location"].startswith("/login?next="), value


async def test_the_requested_resource_becomes_the_token_audience(server: Server) -> None:
    verifier, challenge = pkce_pair()
    # RFC 8707 resource in a non-canonical spelling: upper-case scheme, trailing slash.
    code, _ = await server.authorization_code(challenge, resource="HTTP://127.0.0.1:8000/mcp/")

    response = await server.redeem(code, verifier, resource=RESOURCE + "/")

    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    keys = KeySet.import_key_set(server.ctx.keyring.jwks)  # type: ignore[arg-type]
    claims = jwt.decode(token, keys).claims
    assert claims["aud"] == RESOURCE


async def test_a_different_resource_at_the_token_endpoint_is_invalid_target(
    server: Server,
) -> None:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)

    response = await server.redeem(code, verifier, resource="https://other.example/mcp")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
