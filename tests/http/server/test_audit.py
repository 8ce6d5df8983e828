"""The audit trail: every security event of the browser flow and the token endpoint, and never
a secret in it (or in the log)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from ostiary.core.models import AuditEvent, GrantId

from ..helpers import (
    BASIC_ID,
    BASIC_SECRET,
    CSRF_FIELD,
    PASSWORD,
    PUBLIC_ID,
    SERVICE_REDIRECT,
    USER_ID,
    USERNAME,
    Server,
    basic_auth,
    field,
    pkce_pair,
)


def events(server: Server, name: str | None = None) -> list[AuditEvent]:
    return [e for e in server.storage.audit if name is None or e.event == name]


def one(server: Server, name: str) -> AuditEvent:
    found = events(server, name)
    assert len(found) == 1, server.storage.audit
    return found[0]


async def test_a_successful_login_is_recorded_with_user_and_address(server: Server) -> None:
    response = await server.login()
    assert response.status_code == 303
    event = one(server, "login")
    assert (event.outcome, event.user_id, event.address) == ("success", USER_ID, "127.0.0.1")
    assert event.at == server.clock.now()


async def test_a_wrong_password_is_recorded_for_the_user_without_the_password(
    server: Server,
) -> None:
    response = await server.login(password="guess-1234")
    assert response.status_code == 400
    event = one(server, "login")
    assert (event.outcome, event.user_id, event.detail) == ("failure", USER_ID, "wrong password")
    assert "guess-1234" not in repr(server.storage.audit)


async def test_an_unknown_username_is_not_recorded_it_may_be_a_password(server: Server) -> None:
    response = await server.login(username="hunter2-typed-here", password="x")
    assert response.status_code == 400
    event = one(server, "login")
    assert (event.outcome, event.user_id, event.detail) == ("failure", None, "unknown username")
    assert "hunter2" not in repr(server.storage.audit)


async def test_a_throttled_login_is_recorded(server: Server) -> None:
    for _ in range(5):
        assert (await server.login(password="wrong-password")).status_code == 400
    response = await server.login()
    assert response.status_code == 429
    event = one(server, "login_throttled")
    assert (event.outcome, event.user_id) == ("failure", USER_ID)
    assert len(events(server, "login")) == 5
    assert all(e.outcome == "failure" for e in events(server, "login"))


async def test_consent_given_records_the_chosen_scopes_and_the_code(server: Server) -> None:
    _, challenge = pkce_pair()
    await server.authorization_code(challenge, scopes=["tools:read"])
    consent = one(server, "consent")
    assert (consent.outcome, consent.user_id, consent.client_id) == ("success", USER_ID, PUBLIC_ID)
    assert consent.detail == "scopes=tools:read"
    issued = one(server, "code_issued")
    assert (issued.outcome, issued.user_id, issued.client_id) == ("success", USER_ID, PUBLIC_ID)
    assert issued.detail == "scopes=tools:read"
    grants = await server.storage.list_grants(user_id=USER_ID)
    assert [g.grant_id for g in grants] == [issued.grant_id]


async def test_consent_refused_is_recorded_and_no_code_is_issued(server: Server) -> None:
    _, challenge = pkce_pair()
    await server.login()
    page = await server.authorize(server.authorize_params(challenge))
    assert page.status_code == 200
    response = await server.decide(page, "deny")
    assert "error=access_denied" in response.headers["location"]
    consent = one(server, "consent")
    assert (consent.outcome, consent.client_id, consent.detail) == ("failure", PUBLIC_ID, "refused")
    assert events(server, "code_issued") == []


async def test_code_redeemed_then_replayed_revokes_the_grant(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)
    assert (await server.redeem(code, verifier)).status_code == 200
    redeemed = one(server, "code_redeemed")
    assert (redeemed.outcome, redeemed.user_id, redeemed.client_id) == (
        "success",
        USER_ID,
        PUBLIC_ID,
    )
    assert (await server.redeem(code, verifier)).status_code == 400
    replay = one(server, "code_replay")
    assert (replay.outcome, replay.grant_id, replay.detail) == (
        "failure",
        redeemed.grant_id,
        "grant revoked",
    )
    grant = await server.storage.get_grant(GrantId(redeemed.grant_id or ""))
    assert grant is not None and grant.revoked_at is not None


async def test_a_wrong_verifier_is_a_failed_redemption(server: Server) -> None:
    _, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)
    other_verifier, _ = pkce_pair()
    assert (await server.redeem(code, other_verifier)).status_code == 400
    event = one(server, "code_redeemed")
    assert event.outcome == "failure"
    assert event.detail == "invalid_grant: code_verifier does not match the code challenge"
    assert other_verifier not in event.detail


async def test_an_unknown_code_is_a_failed_redemption(server: Server) -> None:
    verifier, _ = pkce_pair()
    assert (await server.redeem("no-such-code", verifier)).status_code == 400
    event = one(server, "code_redeemed")
    assert (event.outcome, event.client_id, event.detail) == ("failure", PUBLIC_ID, "unknown code")


async def test_refresh_is_recorded_and_reuse_revokes_the_grant(server: Server) -> None:
    tokens = await server.tokens()
    first = tokens["refresh_token"]
    assert (await server.refresh(first)).status_code == 200
    refreshed = one(server, "token_refreshed")
    assert (refreshed.outcome, refreshed.user_id, refreshed.client_id, refreshed.detail) == (
        "success",
        USER_ID,
        PUBLIC_ID,
        "",
    )
    server.clock.advance(server.ctx.deps.config.refresh_grace + 1)
    assert (await server.refresh(first)).status_code == 400
    reuse = one(server, "refresh_reuse")
    assert (reuse.outcome, reuse.grant_id, reuse.detail) == (
        "failure",
        refreshed.grant_id,
        "grant revoked",
    )


async def test_a_retry_within_the_grace_window_is_a_refresh_not_a_reuse(server: Server) -> None:
    first = (await server.tokens())["refresh_token"]
    assert (await server.refresh(first)).status_code == 200
    assert (await server.refresh(first)).status_code == 200
    details = [(e.outcome, e.detail) for e in events(server, "token_refreshed")]
    assert details == [("success", ""), ("success", "retry within grace")]
    assert events(server, "refresh_reuse") == []


async def test_refresh_after_revocation_is_a_failed_refresh(server: Server) -> None:
    tokens = await server.tokens()
    grant_id = one(server, "code_redeemed").grant_id
    await server.storage.revoke_grant(GrantId(grant_id or ""), server.clock.now())
    assert (await server.refresh(tokens["refresh_token"])).status_code == 400
    event = one(server, "token_refreshed")
    assert (event.outcome, event.detail) == ("failure", "unknown or revoked token")


async def test_a_failing_audit_store_never_fails_the_request(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: AuditEvent) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(server.storage, "append_audit", broken)
    with caplog.at_level(logging.ERROR, logger="ostiary.audit"):
        assert (await server.login()).status_code == 303
    assert "could not write audit event login" in caplog.text


async def test_no_secret_in_any_audit_row_or_log_line_after_a_full_flow(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """Sign-in (a wrong password first), consent, code, refresh, replays, a confidential
    client, the account page's revoke: every value of every row, and the log, are scanned."""
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-Password-Secret-9"
    assert (await server.login(password=wrong)).status_code == 400
    verifier, challenge = pkce_pair()
    code, _ = await server.authorization_code(challenge)
    token_body = (await server.redeem(code, verifier)).json()
    await server.redeem(code, verifier)  # replay: the grant is revoked
    second = await server.tokens()
    rotated = (await server.refresh(second["refresh_token"])).json()
    server.clock.advance(60)
    await server.refresh(second["refresh_token"])  # reuse: revoked

    basic_verifier, basic_challenge = pkce_pair()
    basic_code, _ = await server.authorization_code(
        basic_challenge, client_id=BASIC_ID, redirect_uri=SERVICE_REDIRECT
    )
    basic = await server.redeem(
        basic_code,
        basic_verifier,
        redirect_uri=SERVICE_REDIRECT,
        headers={"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )
    assert basic.status_code == 200
    account = await server.browser.get("/account")
    grant_id = (await server.storage.list_grants(user_id=USER_ID))[0].grant_id
    revoke = await server.browser.post(
        "/account/revoke",
        data={"csrf_token": field(CSRF_FIELD, account.text), "grant_id": grant_id},
    )
    assert revoke.status_code == 303

    secrets_used = {
        PASSWORD,
        wrong,
        BASIC_SECRET,
        code,
        verifier,
        basic_code,
        basic_verifier,
        token_body["access_token"],
        token_body["refresh_token"],
        second["access_token"],
        second["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        basic.json()["access_token"],
        basic.json()["refresh_token"],
        server.browser.cookies["ostiary_session"],
        server.browser.cookies["ostiary_csrf"],
    }
    rows = server.storage.audit
    names = {e.event for e in rows}
    assert {
        "login",
        "consent",
        "code_issued",
        "code_redeemed",
        "code_replay",
        "token_refreshed",
        "refresh_reuse",
        "grant_revoked",
    } <= names
    values = [str(v) for row in rows for v in dataclasses.astuple(row)]
    for secret in secrets_used:
        assert all(secret not in value for value in values), secret
        assert secret not in caplog.text, secret
    assert USERNAME not in values  # the trail names users by id only
