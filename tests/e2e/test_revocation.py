"""Revocation and introspection against a real ``ostiary serve`` (SQLite and PostgreSQL).

A person signs in and approves; a resource server registered with the CLI introspects the
access token; the client revokes its refresh token; from then on the resource server learns
that both tokens are inactive, and the refresh grant fails.
"""

from __future__ import annotations

import time

import httpx
from tests.support.flows import (
    CallbackListener,
    Pkce,
    authorization_url,
    authorize_with_httpx,
    exchange_code,
    oauth_error,
    query_of,
    refresh_form,
)
from tests.support.process import RunningServer


def test_revoking_the_refresh_token_ends_the_grant_for_the_resource_server(
    server: RunningServer, callback: CallbackListener
) -> None:
    issuer = server.issuer
    client_id, _ = server.add_client("--name", "Desktop", "--redirect-uri", callback.redirect_uri)
    rs_id, rs_secret = server.add_client(
        "--name", "MCP resource server", "--redirect-uri", "https://rs.example/cb", "--confidential"
    )
    assert rs_secret is not None
    rs_auth = httpx.BasicAuth(rs_id, rs_secret)
    pkce = Pkce.new()
    url = authorization_url(
        issuer, client_id=client_id, redirect_uri=callback.redirect_uri, pkce=pkce, state="s"
    )

    with httpx.Client(timeout=10) as http:
        location = authorize_with_httpx(http, url, username="admin", password=server.admin_password)
        issued = exchange_code(
            http,
            issuer,
            code=query_of(location)["code"],
            pkce=pkce,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
        )
        assert issued.status_code == 200, issued.text
        tokens = issued.json()

        active = http.post(
            f"{issuer}/introspect", data={"token": tokens["access_token"]}, auth=rs_auth
        )
        assert active.status_code == 200, active.text
        body = active.json()
        assert body["active"] is True
        assert body["aud"] == f"{issuer}/mcp"
        assert body["client_id"] == client_id
        assert body["iss"] == issuer
        assert body["token_type"] == "Bearer"
        assert body["exp"] > time.time()

        revoked = http.post(
            f"{issuer}/revoke",
            data={
                "token": tokens["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": client_id,
            },
        )
        assert revoked.status_code == 200, revoked.text
        assert revoked.content == b""
        assert revoked.headers["cache-control"] == "no-store"

        for token in (tokens["access_token"], tokens["refresh_token"]):
            inactive = http.post(f"{issuer}/introspect", data={"token": token}, auth=rs_auth)
            assert inactive.status_code == 200, inactive.text
            assert inactive.json() == {"active": False}
        assert body["exp"] > time.time()  # the access token itself has not expired

        refreshed = http.post(
            f"{issuer}/token", data=refresh_form(tokens["refresh_token"], client_id)
        )
        assert oauth_error(refreshed) == "invalid_grant"

        public = http.post(
            f"{issuer}/introspect", data={"token": tokens["access_token"], "client_id": client_id}
        )
        assert public.status_code == 401
        assert public.json()["error"] == "invalid_client"
