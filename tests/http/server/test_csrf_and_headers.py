"""Forms refuse to act without the double-submit CSRF token; pages may never be framed."""

from __future__ import annotations

import httpx
import pytest

from ostiary.core.models import ClientId

from ..helpers import (
    CSRF_FIELD,
    NEXT_FIELD,
    PASSWORD,
    PUBLIC_ID,
    REQUEST_FIELD,
    USER_ID,
    USERNAME,
    Server,
    field,
    pkce_pair,
    set_cookies,
)


async def login_form(server: Server, browser: httpx.AsyncClient | None = None) -> dict[str, str]:
    page = await server.login_page("/authorize?client_id=public-app", browser)
    return {
        "csrf_token": field(CSRF_FIELD, page.text),
        "next": field(NEXT_FIELD, page.text),
        "username": USERNAME,
        "password": PASSWORD,
    }


async def assert_signed_out(server: Server) -> None:
    _, challenge = pkce_pair()
    response = await server.authorize(server.authorize_params(challenge))
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("token", [None, "", "forged-token-forged-token-forged-token"])
async def test_login_without_the_right_csrf_token_is_refused(
    server: Server, token: str | None
) -> None:
    form = await login_form(server)
    if token is None:
        del form["csrf_token"]
    else:
        form["csrf_token"] = token

    response = await server.browser.post("/login", data=form)

    assert response.status_code == 403
    assert "location" not in response.headers
    assert "The form expired" in response.text
    assert "ostiary_session" not in set_cookies(response)
    await assert_signed_out(server)


async def test_login_with_the_token_but_without_the_cookie_is_refused(server: Server) -> None:
    """A cross-site form can copy a token it saw, never the victim's cookie."""
    form = await login_form(server)
    async with server.new_browser() as attacker:
        response = await attacker.post("/login", data=form)

        assert response.status_code == 403
        assert "ostiary_session" not in set_cookies(response)
        assert "ostiary_session" not in attacker.cookies


async def consent_page(server: Server) -> httpx.Response:
    await server.login()
    _, challenge = pkce_pair()
    page = await server.authorize(server.authorize_params(challenge))
    assert page.status_code == 200
    return page


@pytest.mark.parametrize("token", [None, "", "forged-token-forged-token-forged-token"])
async def test_consent_without_the_right_csrf_token_is_refused(
    server: Server, token: str | None
) -> None:
    page = await consent_page(server)
    form: dict[str, str | list[str]] = {
        "request": field(REQUEST_FIELD, page.text),
        "decision": "approve",
        "scope": ["tools:read", "tools:execute"],
    }
    if token is not None:
        form["csrf_token"] = token

    response = await server.browser.post("/consent", data=form)

    assert response.status_code == 403
    assert "location" not in response.headers
    assert "The form expired" in response.text
    assert server.storage.codes == {}
    assert server.storage.grants == {}
    assert await server.storage.get_consent(USER_ID, ClientId(PUBLIC_ID)) is None


async def test_consent_posted_from_another_browser_is_refused(server: Server) -> None:
    """The victim's CSRF token is useless without the victim's cookies."""
    page = await consent_page(server)
    async with server.new_browser() as attacker:
        response = await server.decide(page, browser=attacker)

    assert response.status_code == 403
    assert server.storage.codes == {}


async def test_a_valid_consent_form_is_accepted(server: Server) -> None:
    """The control for the refusals above: the same form with the right token works."""
    page = await consent_page(server)

    response = await server.decide(page)

    assert response.status_code == 303
    assert len(server.storage.codes) == 1


async def page_responses(server: Server) -> dict[str, httpx.Response]:
    _, challenge = pkce_pair()
    pages = {
        "home": await server.browser.get("/"),
        "login": await server.login_page(),
        "bad login": await server.login(password="wrong password!"),
        "error": await server.authorize(server.authorize_params(challenge, client_id="nobody")),
        "not a form": await server.browser.post("/login", json={"username": USERNAME}),
    }
    pages["consent"] = await consent_page(server)
    return pages


async def test_every_page_forbids_framing_and_scripts(server: Server) -> None:
    pages = await page_responses(server)
    assert {name: r.status_code for name, r in pages.items()} == {
        "home": 200,
        "login": 200,
        "bad login": 400,
        "error": 400,
        "not a form": 400,
        "consent": 200,
    }
    for name, response in pages.items():
        headers = response.headers
        assert headers["content-type"] == "text/html; charset=utf-8", name
        csp = [d.strip() for d in headers["content-security-policy"].split(";")]
        assert "frame-ancestors 'none'" in csp, name
        assert "default-src 'none'" in csp, name
        assert not any(d.startswith("script-src") for d in csp), name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert headers["cache-control"] == "no-store", name
        assert "<script" not in response.text, name
