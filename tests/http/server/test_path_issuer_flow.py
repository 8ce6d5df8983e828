"""The whole flow for an issuer with a path (``https://as.example.com/tenant1``), step by step."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from ..helpers import (
    CSRF_FIELD,
    LOOPBACK_REDIRECT,
    NEXT_FIELD,
    PASSWORD,
    TENANT_ISSUER,
    USERNAME,
    Server,
    field,
    pkce_pair,
    query_of,
    set_cookies,
    single,
)


async def test_login_consent_code_and_token_under_the_path(tenant: Server) -> None:
    metadata = (await tenant.browser.get("/.well-known/oauth-authorization-server/tenant1")).json()
    authorize_path = urlsplit(metadata["authorization_endpoint"]).path
    token_path = urlsplit(metadata["token_endpoint"]).path
    assert (authorize_path, token_path) == ("/tenant1/authorize", "/tenant1/token")
    verifier, challenge = pkce_pair()
    request = tenant.authorize_params(challenge, state="tenant-state")

    # 1. No session: to the login page, under the path, remembering the request.
    first = await tenant.browser.get(authorize_path, params=request)
    assert first.status_code == 302
    location = first.headers["location"]
    assert location.startswith("/tenant1/login?next=" + quote("/tenant1/authorize?", safe=""))

    # 2. The login form posts to /tenant1/login and keeps next.
    page = await tenant.browser.get(location)
    assert page.status_code == 200
    assert 'action="/tenant1/login"' in page.text
    assert 'href="/tenant1/static/ostiary.css"' in page.text
    next_url = field(NEXT_FIELD, page.text)
    assert next_url.startswith("/tenant1/authorize?")
    assert "__Host-ostiary_csrf" in set_cookies(page)

    # 3. Sign in: Secure, __Host- cookies, and back to the authorization request.
    login = await tenant.browser.post(
        "/tenant1/login",
        data={
            "csrf_token": field(CSRF_FIELD, page.text),
            "next": next_url,
            "username": USERNAME,
            "password": PASSWORD,
        },
    )
    assert login.status_code == 303
    assert login.headers["location"] == next_url
    session = set_cookies(login)["__Host-ostiary_session"]
    assert "secure" in session
    assert "httponly" in session
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"

    # 4. The consent page posts to /tenant1/consent.
    consent = await tenant.browser.get(next_url)
    assert consent.status_code == 200
    assert 'action="/tenant1/consent"' in consent.text
    assert "This application runs on your own computer" in consent.text

    # 5. Approve: back to the client with code, state and the path issuer.
    approved = await tenant.decide(consent, scopes=["tools:read"])
    assert approved.status_code == 303
    redirect = approved.headers["location"]
    assert redirect.startswith(LOOPBACK_REDIRECT + "?")
    query = query_of(redirect)
    assert single(query, "state") == "tenant-state"
    assert single(query, "iss") == TENANT_ISSUER

    # 6. Redeem at /tenant1/token.
    token = await tenant.browser.post(
        token_path,
        data={
            "grant_type": "authorization_code",
            "code": single(query, "code"),
            "code_verifier": verifier,
            "redirect_uri": LOOPBACK_REDIRECT,
            "client_id": "public-app",
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["scope"] == "tools:read"
    assert token.headers["access-control-allow-origin"] == "*"

    # 7. The refresh token works at the same endpoint.
    refreshed = await tenant.refresh(body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


async def test_the_session_cookie_is_not_sent_over_plain_http(tenant: Server) -> None:
    """A Secure cookie stays on https: the same app reached over http is signed out."""
    assert (await tenant.login()).status_code == 303
    _, challenge = pkce_pair()
    params = tenant.authorize_params(challenge)
    signed_in = await tenant.browser.get("/tenant1/authorize", params=params)
    assert signed_in.status_code == 200

    plain = await tenant.browser.get("http://as.example.com/tenant1/authorize", params=params)

    assert plain.status_code == 302
    assert plain.headers["location"].startswith("/tenant1/login?")
