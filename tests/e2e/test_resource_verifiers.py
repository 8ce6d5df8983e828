"""The three token verifiers against a real ``ostiary serve`` as the authorization server.

Tokens come from the real flow (login and consent with httpx, code exchange, refresh). The
JWKS and introspection verifiers reach the server over loopback http (their test option);
``LocalVerifier`` is built in this process over the server's own SQLite store and secret,
as a resource server sharing the database would be. SQLite only, to keep the tier quick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.flows import (
    CallbackListener,
    Pkce,
    authorization_url,
    authorize_with_httpx,
    code_form,
    query_of,
    refresh_form,
)
from tests.support.process import RunningServer, running_server

from ostiary.core.clock import FrozenClock
from ostiary.crypto.server_secret import ServerKeys, load_or_create_secret
from ostiary.resource.tokens import InvalidToken, TokenVerifier
from ostiary.resource.verifiers import IntrospectionVerifier, JwksVerifier, LocalVerifier
from ostiary.server.keyring import KeyPolicy, KeyRing
from ostiary.storage.sql import open_storage
from ostiary.storage.sql.stores import SqlStorage

OTHER_RESOURCE = "https://other.example/mcp"
SCOPES = "tools:read tools:execute"


class Timer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("OSTIARY_KEY_RELOAD_INTERVAL", "1")
    with running_server(tmp_path / "as", None, "--resource", OTHER_RESOURCE) as running:
        yield running


@pytest.fixture
def resource(server: RunningServer) -> str:
    return f"{server.issuer}/mcp"


@pytest.fixture
def rs_credentials(server: RunningServer) -> tuple[str, str]:
    """A confidential client for introspection, registered with the CLI."""
    rs_id, rs_secret = server.add_client(
        "--name", "MCP resource server", "--redirect-uri", "https://rs.example/cb", "--confidential"
    )
    assert rs_secret is not None
    return rs_id, rs_secret


def sign_in(
    server: RunningServer, callback: CallbackListener, resource: str | None = None
) -> dict[str, Any]:
    """A public client, login and consent with httpx; the token response and the client id."""
    client_id, _ = server.add_client("--name", "Desktop", "--redirect-uri", callback.redirect_uri)
    pkce = Pkce.new()
    url = authorization_url(
        server.issuer,
        client_id=client_id,
        redirect_uri=callback.redirect_uri,
        pkce=pkce,
        state="v",
        resource=resource,
    )
    with httpx.Client(timeout=10) as http:
        location = authorize_with_httpx(http, url, username="admin", password=server.admin_password)
        form = code_form(query_of(location)["code"], pkce, client_id, callback.redirect_uri, "")
        issued = http.post(f"{server.issuer}/token", data=form | {"resource": resource or ""})
    assert issued.status_code == 200, issued.text
    body: dict[str, Any] = issued.json()
    return body | {"client_id": client_id}


class Verifiers:
    """Builds the three verifiers against ``server``; closes their HTTP clients at the end."""

    def __init__(self, server: RunningServer, storage: SqlStorage, rs: tuple[str, str]) -> None:
        self.server, self.storage, self.rs = server, storage, rs
        self.opened: list[JwksVerifier | IntrospectionVerifier] = []

    def jwks(self, resource: str, **options: Any) -> JwksVerifier:
        verifier = JwksVerifier(self.server.issuer, resource, allow_http_loopback=True, **options)
        self.opened.append(verifier)
        return verifier

    def introspection(self, resource: str, **options: Any) -> IntrospectionVerifier:
        verifier = IntrospectionVerifier(
            self.server.issuer,
            resource,
            client_id=self.rs[0],
            client_secret=self.rs[1],
            allow_http_loopback=True,
            **options,
        )
        self.opened.append(verifier)
        return verifier

    async def local(self, resource: str, **options: Any) -> LocalVerifier:
        """In this process, over the server's own store and secret (its keys, its grants)."""
        secret = load_or_create_secret(self.server.data_dir / "ostiary.secret")
        keys = ServerKeys.from_secret(secret)
        clock = FrozenClock(int(time.time()))
        ring = KeyRing(self.storage, keys.key_encryption, clock, KeyPolicy())
        await ring.load()
        return LocalVerifier(
            ring, self.storage, issuer=self.server.issuer, resource=resource, **options
        )


@pytest.fixture
async def verifiers(
    server: RunningServer, rs_credentials: tuple[str, str]
) -> AsyncIterator[Verifiers]:
    storage = await open_storage(server.database)
    made = Verifiers(server, storage, rs_credentials)
    try:
        yield made
    finally:
        for verifier in made.opened:
            await verifier.aclose()
        await storage.close()


async def test_a_good_token_verifies_the_same_way_with_all_three(
    server: RunningServer,
    resource: str,
    verifiers: Verifiers,
    callback: CallbackListener,
) -> None:
    tokens = sign_in(server, callback)
    access = tokens["access_token"]
    jwks = verifiers.jwks(resource)
    introspection = verifiers.introspection(resource)
    local = await verifiers.local(resource)
    results = [await v.verify(access) for v in (jwks, introspection, local)]
    for verified in results:
        assert verified.client_id == tokens["client_id"]
        assert verified.scopes == frozenset(SCOPES.split())
        assert verified.audience == (resource,)
        assert verified.issuer == server.issuer
        assert verified.expires_at > time.time()
    assert len({v.subject for v in results}) == 1
    assert results[0].subject and results[0].grant_id == results[2].grant_id
    assert introspection.requests == 1


async def test_a_token_for_another_resource_is_refused_despite_a_good_signature(
    server: RunningServer,
    resource: str,
    verifiers: Verifiers,
    callback: CallbackListener,
) -> None:
    access = sign_in(server, callback, resource=OTHER_RESOURCE)["access_token"]
    at_other = verifiers.jwks(OTHER_RESOURCE)
    assert (await at_other.verify(access)).audience == (OTHER_RESOURCE,)
    checks: list[TokenVerifier] = [
        verifiers.jwks(resource),
        verifiers.introspection(resource),
        await verifiers.local(resource),
    ]
    for verifier in checks:
        with pytest.raises(InvalidToken, match="audience") as refused:
            await verifier.verify(access)
        assert access not in refused.value.description


async def test_revoking_the_grant_reaches_introspection_within_its_cache_and_local_at_once(
    server: RunningServer,
    resource: str,
    verifiers: Verifiers,
    callback: CallbackListener,
) -> None:
    tokens = sign_in(server, callback)
    access, timer = tokens["access_token"], Timer()
    introspection = verifiers.introspection(resource, timer=timer)
    local = await verifiers.local(resource, grant_ttl=0.5)
    await introspection.verify(access)
    await local.verify(access)

    async with httpx.AsyncClient() as http:
        revoked = await http.post(
            f"{server.issuer}/revoke",
            data={"token": tokens["refresh_token"], "client_id": tokens["client_id"]},
        )
    assert revoked.status_code == 200, revoked.text
    started = time.monotonic()
    while True:  # the local verifier: within its 0.5 s grant cache, measured on a real clock
        try:
            await local.verify(access)
        except InvalidToken as exc:
            assert "revoked" in exc.description
            break
        assert time.monotonic() - started < 1.0, "revocation not seen within one second"
        await asyncio.sleep(0.05)

    assert (await introspection.verify(access)).client_id == tokens["client_id"]  # cached
    timer.now += 30  # the default cache bound
    with pytest.raises(InvalidToken, match="not active"):
        await introspection.verify(access)
    assert introspection.requests == 2


async def test_a_refresh_token_is_not_a_bearer_token(
    server: RunningServer,
    resource: str,
    verifiers: Verifiers,
    callback: CallbackListener,
) -> None:
    refresh = sign_in(server, callback)["refresh_token"]
    introspection = verifiers.introspection(resource)
    with pytest.raises(InvalidToken, match="not an access token"):
        await introspection.verify(refresh)
    with pytest.raises(InvalidToken, match="not a signed JWT"):
        await verifiers.jwks(resource).verify(refresh)


async def test_an_expired_token_is_refused(
    server: RunningServer,
    resource: str,
    verifiers: Verifiers,
    callback: CallbackListener,
) -> None:
    tokens = sign_in(server, callback)
    later = FrozenClock(int(time.time()) + tokens["expires_in"] + 30)
    checks: list[TokenVerifier] = [
        verifiers.jwks(resource, clock=later),
        await verifiers.local(resource, clock=later),
    ]
    for verifier in checks:
        with pytest.raises(InvalidToken, match="expired"):
            await verifier.verify(tokens["access_token"])


async def test_a_token_signed_by_another_server_is_refused(
    server: RunningServer,
    resource: str,
    verifiers: Verifiers,
    tmp_path: Path,
    callback: CallbackListener,
) -> None:
    with running_server(tmp_path / "other-as") as other:
        foreign = sign_in(other, callback)["access_token"]
    jwks = verifiers.jwks(resource)
    with pytest.raises(InvalidToken, match="unknown key"):
        await jwks.verify(foreign)
    with pytest.raises(InvalidToken, match="not active"):
        await verifiers.introspection(resource).verify(foreign)


async def test_a_rotated_key_is_fetched_on_its_first_unknown_kid(
    server: RunningServer, resource: str, verifiers: Verifiers, callback: CallbackListener
) -> None:
    tokens = sign_in(server, callback)
    timer = Timer()
    verifier = verifiers.jwks(resource, timer=timer)
    await verifier.verify(tokens["access_token"])
    assert verifier.fetches == 1

    rotated = server.cli("key", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    deadline = time.monotonic() + 10
    new_access = tokens["access_token"]
    async with httpx.AsyncClient(timeout=10) as http:
        refresh_token = tokens["refresh_token"]
        while new_access.split(".")[0] == tokens["access_token"].split(".")[0]:
            assert time.monotonic() < deadline, "the server never signed with the new key"
            await asyncio.sleep(0.3)
            response = await http.post(
                f"{server.issuer}/token", data=refresh_form(refresh_token, tokens["client_id"])
            )
            assert response.status_code == 200, response.text
            new_access, refresh_token = (
                response.json()["access_token"],
                response.json()["refresh_token"],
            )

    with pytest.raises(InvalidToken, match="unknown key"):  # refetched 0 s ago: not yet again
        await verifier.verify(new_access)
    assert verifier.fetches == 1
    timer.now += 30
    assert (await verifier.verify(new_access)).client_id == tokens["client_id"]
    assert (await verifier.verify(tokens["access_token"])).client_id == tokens["client_id"]
    assert verifier.fetches == 2
