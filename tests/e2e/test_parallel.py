"""Races against a real server process: one code redeemed 16 times at once, one refresh token
used 16 times at once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.support.flows import (
    CallbackListener,
    Pkce,
    authorization_url,
    authorize_with_httpx,
    code_form,
    oauth_error,
    query_of,
    refresh_form,
    verify_jwt,
)
from tests.support.process import RunningServer

RACERS = 16


@dataclass(frozen=True)
class IssuedCode:
    issuer: str
    client_id: str
    redirect_uri: str
    code: str
    pkce: Pkce

    def form(self) -> dict[str, str]:
        return code_form(self.code, self.pkce, self.client_id, self.redirect_uri, self.issuer)


@pytest.fixture
def issued(server: RunningServer, callback: CallbackListener) -> IssuedCode:
    """Register a public client and walk login and consent with httpx, as a browser would."""
    client_id, _ = server.add_client("--name", "Racer", "--redirect-uri", callback.redirect_uri)
    pkce = Pkce.new()
    url = authorization_url(
        server.issuer,
        client_id=client_id,
        redirect_uri=callback.redirect_uri,
        pkce=pkce,
        state="race",
    )
    with httpx.Client(timeout=10) as http:
        location = authorize_with_httpx(http, url, username="admin", password=server.admin_password)
    params = query_of(location)
    assert location.startswith(f"{callback.redirect_uri}?"), location
    assert params["state"] == "race"
    assert params["iss"] == server.issuer
    return IssuedCode(server.issuer, client_id, callback.redirect_uri, params["code"], pkce)


async def race(issuer: str, forms: list[dict[str, str]]) -> list[httpx.Response]:
    """POST every form to the token endpoint at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(forms), max_keepalive_connections=len(forms))
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        # open the connections first so the requests themselves start together
        await asyncio.gather(*(http.get(f"{issuer}/jwks") for _ in forms))
        return list(await asyncio.gather(*(http.post(f"{issuer}/token", data=f) for f in forms)))


async def verified(http: httpx.AsyncClient, issuer: str, token: str) -> dict[str, Any]:
    jwks = await http.get(f"{issuer}/jwks")
    assert jwks.status_code == 200, jwks.text
    return verify_jwt(token, jwks.json(), issuer)


async def test_one_code_redeemed_concurrently_succeeds_exactly_once(
    server: RunningServer, issued: IssuedCode
) -> None:
    responses = await race(server.issuer, [issued.form()] * RACERS)
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text) for r in responses]
    losers = [r for r in responses if r.status_code != 200]
    assert [oauth_error(r) for r in losers] == ["invalid_grant"] * (RACERS - 1)
    tokens = winners[0].json()
    async with httpx.AsyncClient(timeout=10) as http:
        claims = await verified(http, server.issuer, tokens["access_token"])
        assert claims["client_id"] == issued.client_id
        # the replays revoked everything issued from the code (OAuth 2.1 §4.1.3)
        refresh = refresh_form(tokens["refresh_token"], issued.client_id)
        again = await http.post(f"{server.issuer}/token", data=refresh)
        assert oauth_error(again) == "invalid_grant"
    assert server.process.poll() is None


async def test_one_refresh_token_used_concurrently_rotates_once(
    server: RunningServer, issued: IssuedCode
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(f"{server.issuer}/token", data=issued.form())
    assert first.status_code == 200, first.text
    old = first.json()["refresh_token"]

    responses = await race(server.issuer, [refresh_form(old, issued.client_id)] * RACERS)
    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]
    assert all(r.headers["cache-control"] == "no-store" for r in responses)
    successors = {r.json()["refresh_token"] for r in responses}
    assert len(successors) == 1, successors
    (successor,) = successors
    assert successor != old
    assert len({r.json()["access_token"] for r in responses}) == 1
    assert all(r.json()["scope"] == "tools:read tools:execute" for r in responses)

    async with httpx.AsyncClient(timeout=10) as http:
        following = await http.post(
            f"{server.issuer}/token", data=refresh_form(successor, issued.client_id)
        )
        assert following.status_code == 200, following.text
        assert following.json()["refresh_token"] not in {old, successor}
        claims = await verified(http, server.issuer, following.json()["access_token"])
        assert claims["scope"] == "tools:read tools:execute"
    assert server.process.poll() is None
