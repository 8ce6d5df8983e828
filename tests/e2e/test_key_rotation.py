"""Key rotation against a real ``ostiary serve`` (SQLite and PostgreSQL).

A token is issued; ``ostiary key rotate`` runs in another process; the server picks the new
key up without a restart, publishes both keys, signs new tokens with the new one, and the old
token still verifies against the published JWKS. Once every token the old key signed has
expired (retirement + reload interval + access-token TTL + leeway), the old key drops out.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from tests.support.flows import (
    CallbackListener,
    Pkce,
    ServerFactory,
    authorization_url,
    authorize_with_httpx,
    exchange_code,
    jwt_header,
    query_of,
    refresh_form,
    verify_jwt,
)
from tests.support.process import RunningServer

from ostiary.crypto.jwt import JwtVerificationError

TTL, RELOAD, LEEWAY = 30, 1, 2  # the shortest access-token TTL the settings allow
WINDOW = RELOAD + TTL + LEEWAY


def published_kids(http: httpx.Client, issuer: str) -> list[str]:
    jwks = http.get(f"{issuer}/jwks")
    assert jwks.status_code == 200, jwks.text
    return [k["kid"] for k in jwks.json()["keys"]]


def wait_for_kids(http: httpx.Client, issuer: str, kids: set[str], timeout: float) -> float:
    """Poll the JWKS until it holds exactly ``kids``; return when that was first seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = published_kids(http, issuer)
        if set(seen) == kids and len(seen) == len(kids):
            return time.time()
        assert time.monotonic() < deadline, f"JWKS still {seen}, expected {sorted(kids)}"
        time.sleep(0.2)


def sign_in(server: RunningServer, http: httpx.Client, callback: CallbackListener) -> Any:
    """A public client, login and consent with httpx, and the code exchanged for tokens."""
    client_id, _ = server.add_client("--name", "Desktop", "--redirect-uri", callback.redirect_uri)
    pkce = Pkce.new()
    url = authorization_url(
        server.issuer, client_id=client_id, redirect_uri=callback.redirect_uri, pkce=pkce, state="k"
    )
    location = authorize_with_httpx(http, url, username="admin", password=server.admin_password)
    issued = exchange_code(
        http,
        server.issuer,
        code=query_of(location)["code"],
        pkce=pkce,
        client_id=client_id,
        redirect_uri=callback.redirect_uri,
    )
    assert issued.status_code == 200, issued.text
    return issued.json() | {"client_id": client_id}


def refreshed(http: httpx.Client, issuer: str, tokens: dict[str, Any]) -> dict[str, Any]:
    response = http.post(
        f"{issuer}/token", data=refresh_form(tokens["refresh_token"], tokens["client_id"])
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body | {"client_id": tokens["client_id"]}


def test_a_rotation_by_the_cli_reaches_the_running_server(
    start_server: ServerFactory, callback: CallbackListener
) -> None:
    with (
        start_server(
            OSTIARY_ACCESS_TOKEN_TTL=str(TTL),
            OSTIARY_KEY_RELOAD_INTERVAL=str(RELOAD),
            OSTIARY_KEY_PUBLICATION_LEEWAY=str(LEEWAY),
        ) as server,
        httpx.Client(timeout=10) as http,
    ):
        issuer = server.issuer
        tokens = sign_in(server, http, callback)
        old_token = tokens["access_token"]
        [old_kid] = published_kids(http, issuer)
        assert jwt_header(old_token)["kid"] == old_kid

        rotated_before = time.time()
        rotation = server.cli("key", "rotate")
        assert rotation.returncode == 0, rotation.stderr
        match = re.search(r"^current key: (\S+) \(ES256\)$", rotation.stdout, re.MULTILINE)
        assert match is not None, rotation.stdout
        new_kid = match.group(1)
        assert f"retired key: {old_kid} (published until " in rotation.stdout

        # the server reloads on its own: both keys are published, the new one signs
        wait_for_kids(http, issuer, {old_kid, new_kid}, timeout=10)
        tokens = refreshed(http, issuer, tokens)
        new_token = tokens["access_token"]
        assert jwt_header(new_token)["kid"] == new_kid
        jwks = http.get(f"{issuer}/jwks").json()
        assert verify_jwt(new_token, jwks, issuer)["sub"]
        assert verify_jwt(old_token, jwks, issuer)["sub"]  # still verifies after the rotation

        listed = server.cli("key", "list")
        assert listed.returncode == 0, listed.stderr
        states = {line.split("\t")[0]: line.split("\t")[3] for line in listed.stdout.splitlines()}
        assert states[new_kid] == "current"
        assert states[old_kid].startswith("retired, published until ")

        # once every token the old key signed has expired, it leaves the JWKS
        dropped_at = wait_for_kids(http, issuer, {new_kid}, timeout=WINDOW + 15)
        assert dropped_at >= rotated_before + WINDOW - 1, dropped_at - rotated_before
        jwks = http.get(f"{issuer}/jwks").json()
        with pytest.raises(JwtVerificationError, match="invalid token"):
            verify_jwt(old_token, jwks, issuer)
        tokens = refreshed(http, issuer, tokens)
        assert jwt_header(tokens["access_token"])["kid"] == new_kid
        assert verify_jwt(tokens["access_token"], jwks, issuer)["sub"]
