"""In real Chromium: a person authorizes a client, finds it on the account page, revokes it,
and the client's refresh token stops working at once (a real ``ostiary serve``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from tests.support.flows import (
    CallbackListener,
    Pkce,
    authorization_url,
    code_form,
    oauth_error,
    refresh_form,
)
from tests.support.process import RunningServer

pytestmark = pytest.mark.browser

CLIENT_NAME = "Account Page Notes (e2e)"


def authorize_in_browser(page: Page, server: RunningServer, url: str) -> None:
    page.goto(url)
    assert urlsplit(page.url).path == "/login", page.url
    page.fill("#username", "admin")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_selector("form input[name=scope]")
    page.click("button[value=approve]")


def test_revoking_on_the_account_page_ends_the_clients_access(
    server: RunningServer, callback: CallbackListener, page: Page
) -> None:
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "favicon" not in str(message.location.get("url", "")):
            errors.append(message.text)

    page.on("console", console)
    issuer = server.issuer
    client_id, _ = server.add_client("--name", CLIENT_NAME, "--redirect-uri", callback.redirect_uri)
    pkce = Pkce.new()
    url = authorization_url(
        issuer, client_id=client_id, redirect_uri=callback.redirect_uri, pkce=pkce, state="s1"
    )
    authorize_in_browser(page, server, url)
    code = callback.wait(1)["code"]
    with httpx.Client(timeout=10) as http:
        tokens = http.post(
            f"{issuer}/token", data=code_form(code, pkce, client_id, callback.redirect_uri, issuer)
        )
        assert tokens.status_code == 200, tokens.text
        refresh_token = tokens.json()["refresh_token"]

        # the home page links to the account page, which lists the client
        page.goto(f"{issuer}/")
        page.click("text=Applications you authorized")
        assert urlsplit(page.url).path == "/account"
        assert page.title() == "Your applications · Ostiary"
        rows = page.locator(".application")
        expect(rows).to_have_count(1)
        assert rows.locator(".client").inner_text() == CLIENT_NAME
        scopes = rows.locator(".scopes li code").all_inner_texts()
        assert scopes == ["tools:read", "tools:execute"]
        assert "Run tools on your behalf" in rows.locator(".scopes").inner_text()
        assert rows.locator(".last-used").inner_text().endswith(" UTC")

        # Revoke: the row disappears, and the refresh token is dead
        rows.locator("button.revoke").click()
        expect(page.locator(".notice")).to_contain_text("Access revoked")
        expect(page.locator(".application")).to_have_count(0)
        expect(page.locator(".empty")).to_be_visible()
        refused = http.post(f"{issuer}/token", data=refresh_form(refresh_token, client_id))
        assert oauth_error(refused) == "invalid_grant"

        audit = server.cli("audit")
        assert audit.returncode == 0, audit.stderr
        revoked = [line for line in audit.stdout.splitlines() if "\tgrant_revoked\t" in line]
        assert len(revoked) == 1
        assert "\tsuccess\tuser=admin\t" in revoked[0]
        assert revoked[0].endswith("\tby user")
        assert "address=127.0.0.1" in revoked[0]
    assert errors == [], errors
