"""A person in real Chromium signs in and consents; a native client gets and uses its tokens.

Against a real ``ostiary serve`` process on SQLite and on PostgreSQL, with a real loopback
callback listener. The server runs with ``OSTIARY_REFRESH_GRACE=0`` so that a replayed refresh
token is caught at once (the grace window itself is covered by ``test_parallel``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, expect
from tests.support.flows import (
    ODD_STATE,
    CallbackListener,
    Pkce,
    ServerFactory,
    authorization_url,
    code_form,
    jwt_header,
    oauth_error,
    query_of,
    refresh_form,
    verified_claims,
)
from tests.support.process import RunningServer

pytestmark = pytest.mark.browser

CLIENT_NAME = "Playwright Notes (e2e)"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PageWatch:
    """Everything the page asked of the server, and every console error (CSP reports too).

    A missing favicon and the 400 answer to the deliberately wrong password are expected.
    """

    def __init__(self, page: Page, issuer: str) -> None:
        self.issuer = issuer
        self.paths: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("request", self._request)
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if request.url.startswith(self.issuer) and path != "/favicon.ico":
            self.paths.append(path)

    def _console(self, message: ConsoleMessage) -> None:
        path = urlsplit(str(message.location.get("url", ""))).path
        if message.type not in {"error", "warning"} or path == "/favicon.ico":
            return
        if path == "/login" and "status of 400" in message.text:
            return  # the wrong password, on purpose
        self.errors.append(f"{message.text} at {message.location}")

    def clear(self) -> None:
        self.paths.clear()


def screenshot(page: Page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"


def sign_in(page: Page, server: RunningServer, tmp_path: Path) -> None:
    """On the login page: one wrong password (an error, the name kept), then the right one."""
    assert urlsplit(page.url).path == "/login", page.url
    assert server.admin_password, "no first-start password in the banner:\n" + server.output[0]
    assert page.title() == "Sign in · Ostiary"
    assert page.locator(".lead").inner_text() == f"to continue to {CLIENT_NAME}"
    expect(page.locator("#username")).to_be_focused()
    screenshot(page, tmp_path / "login.png")
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong username or password."
    assert page.input_value("#username") == "admin"
    assert page.input_value("#password") == ""
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_selector("form input[name=scope]")


def check_consent_page(page: Page, server: RunningServer) -> None:
    assert page.title() == "Allow access? · Ostiary"
    assert page.locator("h1").inner_text() == f"{CLIENT_NAME} wants to access your account"
    assert page.locator(".who").inner_text() == "Signed in as admin"
    assert page.locator(".host").inner_text() == "127.0.0.1"
    warning = page.locator(".warning")
    assert warning.is_visible()
    assert "runs on your own computer (127.0.0.1)" in warning.inner_text()
    boxes = page.locator("input[type=checkbox][name=scope]")
    assert boxes.count() == 2
    values = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
    assert values == ["tools:read", "tools:execute"]
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    assert page.locator(".resource code").inner_text() == f"{server.issuer}/mcp"


def test_login_consent_tokens_and_revocation_in_chromium(
    start_server: ServerFactory, callback: CallbackListener, page: Page, tmp_path: Path
) -> None:
    with start_server(OSTIARY_REFRESH_GRACE="0") as server, httpx.Client(timeout=10) as http:
        issuer = server.issuer
        client_id, secret = server.add_client(
            "--name", CLIENT_NAME, "--redirect-uri", callback.redirect_uri
        )
        assert secret is None
        client = (client_id, callback.redirect_uri, issuer)
        watch = PageWatch(page, issuer)
        pkce = Pkce.new()
        url = authorization_url(
            issuer,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
            pkce=pkce,
            state=ODD_STATE,
        )

        # 1. login, consent with tools:execute unchecked, approve
        page.goto(url)
        sign_in(page, server, tmp_path)
        check_consent_page(page, server)
        screenshot(page, tmp_path / "consent.png")
        page.uncheck("input[name=scope][value='tools:execute']")
        with page.expect_navigation(url=f"{callback.redirect_uri}?*"):
            page.click("button[value=approve]")
        received = callback.wait(1)
        assert set(received) == {"code", "state", "iss"}
        assert received["state"] == ODD_STATE
        assert received["iss"] == issuer
        assert query_of(page.url) == received
        assert page.locator("p").inner_text() == "You can close this window."
        assert watch.errors == [], watch.errors
        assert watch.failed == [], watch.failed
        assert "/static/ostiary.css" in watch.paths

        # 2. the code buys a JWT bound to the resource and to the narrowed scope
        first = http.post(f"{issuer}/token", data=code_form(received["code"], pkce, *client))
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == "no-store"
        tokens = first.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["scope"] == "tools:read"
        assert isinstance(tokens["refresh_token"], str)
        assert 0 < tokens["expires_in"] <= 3600
        claims = verified_claims(http, issuer, tokens["access_token"])
        assert claims["aud"] == f"{issuer}/mcp"
        assert claims["iss"] == issuer
        assert claims["client_id"] == client_id
        assert claims["scope"] == "tools:read"
        assert jwt_header(tokens["access_token"])["typ"] == "at+jwt"

        # 3. refresh rotates; replaying the old token revokes the grant, successor included
        old_refresh = tokens["refresh_token"]
        rotated = http.post(f"{issuer}/token", data=refresh_form(old_refresh, client_id))
        assert rotated.status_code == 200, rotated.text
        assert rotated.headers["cache-control"] == "no-store"
        new_pair = rotated.json()
        assert new_pair["refresh_token"] not in {old_refresh, None}
        assert new_pair["access_token"] != tokens["access_token"]
        assert new_pair["scope"] == "tools:read"
        assert verified_claims(http, issuer, new_pair["access_token"])["aud"] == f"{issuer}/mcp"
        replay = http.post(f"{issuer}/token", data=refresh_form(old_refresh, client_id))
        assert oauth_error(replay) == "invalid_grant"
        successor = http.post(
            f"{issuer}/token", data=refresh_form(new_pair["refresh_token"], client_id)
        )
        assert oauth_error(successor) == "invalid_grant"

        # 4. the same URL asks again: tools:execute was never approved. This time: Deny.
        watch.clear()
        page.goto(url)
        check_consent_page(page, server)
        assert "/login" not in watch.paths  # the session cookie was kept
        with page.expect_navigation(url=f"{callback.redirect_uri}?*"):
            page.click("button[value=deny]")
        denied = callback.wait(2)
        assert denied == {
            "error": "access_denied",
            "error_description": "the user denied the request",
            "state": ODD_STATE,
            "iss": issuer,
        }

        # 5. asking only for what was approved skips login and consent altogether
        watch.clear()
        pkce2 = Pkce.new()
        url2 = authorization_url(
            issuer,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
            pkce=pkce2,
            state="second",
            scope="tools:read",
        )
        with page.expect_navigation(url=f"{callback.redirect_uri}?*"):
            page.goto(url2)
        remembered = callback.wait(3)
        assert remembered["state"] == "second"
        assert remembered["iss"] == issuer
        assert watch.paths == ["/authorize"], watch.paths
        assert watch.errors == [], watch.errors
        code2 = code_form(remembered["code"], pkce2, *client)
        second = http.post(f"{issuer}/token", data=code2)
        assert second.status_code == 200, second.text
        assert second.json()["scope"] == "tools:read"

        # a new grant, untouched by the revocation in step 3 ...
        live = http.post(
            f"{issuer}/token", data=refresh_form(second.json()["refresh_token"], client_id)
        )
        assert live.status_code == 200, live.text
        # ... until its code is replayed: that revokes what the code produced (OAuth 2.1 §4.1.3)
        assert oauth_error(http.post(f"{issuer}/token", data=code2)) == "invalid_grant"
        latest = refresh_form(live.json()["refresh_token"], client_id)
        assert oauth_error(http.post(f"{issuer}/token", data=latest)) == "invalid_grant"
        assert server.process.poll() is None
