"""The account page: a person's authorized applications, and taking one back."""

from __future__ import annotations

import html
import re
from pathlib import Path

from ostiary.core.models import Client, ClientId, GrantId, User, UserId
from ostiary.server.ui.pages import PAGE_HEADERS

from ..helpers import (
    CSRF_FIELD,
    ISSUER,
    PUBLIC_ID,
    PUBLIC_NAME,
    RESOURCE,
    SCOPE_TEXT,
    USER_ID,
    WEB_ID,
    WEB_NAME,
    WEB_REDIRECT,
    Server,
    field,
    password_hash,
    pkce_pair,
    running,
)

GRANT_FIELD = re.compile(r'<input type="hidden" name="grant_id" value="([^"]+)">')
BOB = UserId("user-bob")


async def grant_ids(server: Server, user_id: UserId = USER_ID) -> list[GrantId]:
    return [g.grant_id for g in await server.storage.list_grants(user_id=user_id)]


async def test_without_a_session_the_account_page_sends_to_login_and_back(
    any_server: Server,
) -> None:
    base = any_server.base
    response = await any_server.browser.get(f"{base}/account")
    assert response.status_code == 303
    assert response.headers["location"] == f"{base}/login?next={base}/account"
    login = await any_server.login(f"{base}/account")
    assert login.status_code == 303
    assert login.headers["location"] == f"{base}/account"


async def test_the_login_page_keeps_the_account_page_as_next(server: Server) -> None:
    page = await server.login_page("/account")
    assert '<input type="hidden" name="next" value="/account">' in page.text
    other = await server.login_page("/account/../evil")
    assert '<input type="hidden" name="next" value="/">' in other.text


async def test_home_links_to_the_account_page_when_signed_in(server: Server) -> None:
    assert 'href="/account"' not in (await server.browser.get("/")).text
    await server.login()
    assert 'href="/account"' in (await server.browser.get("/")).text


async def test_the_page_lists_each_application_with_scopes_and_dates(server: Server) -> None:
    _, challenge = pkce_pair()
    await server.authorization_code(challenge, scopes=["tools:read"])
    server.clock.advance(3600)
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(
        challenge, client_id=WEB_ID, redirect_uri=WEB_REDIRECT, scope="tools:read resources:read"
    )
    server.clock.advance(45)
    redeemed = await server.redeem(code, verifier, client_id=WEB_ID, redirect_uri=WEB_REDIRECT)
    assert redeemed.status_code == 200, redeemed.text

    page = await server.browser.get("/account")
    assert page.status_code == 200
    for name, value in PAGE_HEADERS.items():
        assert page.headers[name] == value
    text = html.unescape(page.text)
    assert text.index(WEB_NAME) < text.index(PUBLIC_NAME)  # newest first
    assert SCOPE_TEXT["tools:read"] in text
    assert SCOPE_TEXT["resources:read"] in text
    assert SCOPE_TEXT["tools:execute"] not in text
    # the clock starts at 2023-11-14 22:13:20 UTC
    assert 'Authorized <span class="authorized">2023-11-14 23:13 UTC</span>' in text
    assert 'last used <span class="last-used">2023-11-14 23:14 UTC</span>' in text  # redeemed
    assert 'Authorized <span class="authorized">2023-11-14 22:13 UTC</span>' in text
    assert 'last used <span class="last-used">never</span>' in text  # its code never redeemed
    assert GRANT_FIELD.findall(page.text) == list(await grant_ids(server))


async def test_revoke_removes_the_application_kills_its_tokens_and_forgets_consent(
    server: Server,
) -> None:
    tokens = await server.tokens()
    page = await server.browser.get("/account")
    [grant_id] = GRANT_FIELD.findall(page.text)
    response = await server.browser.post(
        "/account/revoke", data={"csrf_token": field(CSRF_FIELD, page.text), "grant_id": grant_id}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account?revoked=1"
    after = await server.browser.get(response.headers["location"])
    assert "Access revoked" in after.text
    assert PUBLIC_NAME not in after.text
    assert "No application has access to your account." in after.text

    refresh = await server.refresh(tokens["refresh_token"])
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
    event = [e for e in server.storage.audit if e.event == "grant_revoked"]
    assert [(e.outcome, e.user_id, e.client_id, e.grant_id, e.detail) for e in event] == [
        ("success", USER_ID, PUBLIC_ID, grant_id, "by user")
    ]
    # the next authorization asks again rather than reusing the remembered consent
    _, challenge = pkce_pair()
    again = await server.authorize(server.authorize_params(challenge))
    assert again.status_code == 200
    assert "wants to access your account" in again.text


async def test_another_users_grant_is_refused_and_nothing_changes(server: Server) -> None:
    await server.storage.add_user(User(BOB, "bob", password_hash()))
    await server.login(username="bob")
    _, challenge = pkce_pair()
    await server.authorization_code(challenge)
    [bobs] = await grant_ids(server, BOB)
    consent_before = await server.storage.get_consent(BOB, PUBLIC_ID)

    async with server.new_browser() as alice:
        await server.login(browser=alice)
        page = await alice.get("/account")
        assert bobs not in page.text
        page = await alice.get("/")  # a form with the CSRF token
        response = await alice.post(
            "/account/revoke", data={"csrf_token": field(CSRF_FIELD, page.text), "grant_id": bobs}
        )
    assert response.status_code == 404
    assert "There is no such authorization on your account." in response.text
    grant = await server.storage.get_grant(bobs)
    assert grant is not None and grant.revoked_at is None
    assert await server.storage.get_consent(BOB, PUBLIC_ID) == consent_before
    refused = [e for e in server.storage.audit if e.event == "grant_revoked"]
    assert [(e.outcome, e.user_id, e.grant_id) for e in refused] == [("failure", USER_ID, None)]


async def test_an_unknown_grant_id_is_refused(server: Server) -> None:
    await server.login()
    page = await server.browser.get("/")
    response = await server.browser.post(
        "/account/revoke", data={"csrf_token": field(CSRF_FIELD, page.text), "grant_id": "nope"}
    )
    assert response.status_code == 404


async def test_revoke_needs_the_csrf_token(server: Server) -> None:
    await server.tokens()
    [grant_id] = await grant_ids(server)
    response = await server.browser.post(
        "/account/revoke", data={"csrf_token": "forged", "grant_id": grant_id}
    )
    assert response.status_code == 403
    assert await grant_ids(server) == [grant_id]


async def test_revoke_without_a_session_goes_to_login(server: Server) -> None:
    await server.tokens()
    [grant_id] = await grant_ids(server)
    page = await server.browser.get("/")
    async with server.new_browser() as stranger:
        stranger.cookies.set("ostiary_csrf", server.browser.cookies["ostiary_csrf"])
        response = await stranger.post(
            "/account/revoke",
            data={"csrf_token": field(CSRF_FIELD, page.text), "grant_id": grant_id},
        )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"
    assert await grant_ids(server) == [grant_id]


async def test_a_deleted_client_is_no_longer_listed(server: Server) -> None:
    await server.storage.save_client(Client(ClientId("gone"), "Gone App", (WEB_REDIRECT,)))
    _, challenge = pkce_pair()
    await server.authorization_code(challenge, client_id="gone", redirect_uri=WEB_REDIRECT)
    assert "Gone App" in (await server.browser.get("/account")).text
    await server.storage.delete_client(ClientId("gone"), server.clock.now())
    assert "Gone App" not in (await server.browser.get("/account")).text


async def test_the_account_template_can_be_overridden(tmp_path: Path) -> None:
    (tmp_path / "account.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>ACME apps of {{ username }}</h1>'
        "{% for app in applications %}<p>{{ app.client_name }}</p>{% endfor %}{% endblock %}"
    )
    async with running(ISSUER, RESOURCE, templates_dir=tmp_path) as server:
        await server.tokens()
        page = await server.browser.get("/account")
    assert page.status_code == 200
    assert "ACME apps of alice" in page.text
    assert f"<p>{PUBLIC_NAME}</p>" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_the_tenant_account_page_lives_under_the_issuer_path(tenant: Server) -> None:
    await tenant.tokens()
    page = await tenant.browser.get("/tenant1/account")
    assert page.status_code == 200
    assert 'action="/tenant1/account/revoke"' in page.text


async def test_a_stepped_up_client_is_one_application_and_revoking_it_ends_every_grant(
    server: Server,
) -> None:
    """A client that steps up (403 insufficient_scope, then a new authorization for more
    scopes, as the TypeScript SDK, mcp-remote and the MCP Inspector do) holds two live grants;
    the person still sees one application, and revoking it kills the tokens of both."""
    first = await server.tokens(scope="tools:read")
    server.clock.advance(120)
    second = await server.tokens(scope="tools:read tools:execute")
    assert len(await grant_ids(server)) == 2

    page = await server.browser.get("/account")
    text = html.unescape(page.text)
    assert text.count(PUBLIC_NAME) == 1
    assert SCOPE_TEXT["tools:read"] in text and SCOPE_TEXT["tools:execute"] in text
    assert 'Authorized <span class="authorized">2023-11-14 22:13 UTC</span>' in text  # the first
    assert 'last used <span class="last-used">2023-11-14 22:15 UTC</span>' in text  # the last
    [grant_id] = GRANT_FIELD.findall(page.text)
    assert grant_id == (await grant_ids(server))[0]  # the newest

    response = await server.browser.post(
        "/account/revoke", data={"csrf_token": field(CSRF_FIELD, page.text), "grant_id": grant_id}
    )
    assert response.status_code == 303
    assert await grant_ids(server) == []
    for tokens in (first, second):
        refresh = await server.refresh(tokens["refresh_token"])
        assert refresh.json()["error"] == "invalid_grant"
    revoked = [e for e in server.storage.audit if e.event == "grant_revoked"]
    assert [(e.outcome, e.detail) for e in revoked] == [("success", "by user")] * 2
