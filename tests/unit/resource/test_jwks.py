"""``JwksVerifier`` against an ``httpx.MockTransport`` authorization server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ostiary.core.clock import FrozenClock
from ostiary.resource.tokens import InvalidToken
from ostiary.resource.verifiers import DiscoveryError, JwksVerifier
from ostiary.resource.verifiers.discovery import check_url, metadata_urls

from .verifier_support import ISSUER, NOW, OTHER_RESOURCE, RESOURCE, Signer, claims


class FakeServer:
    """Serves metadata and a JWKS; counts requests per path."""

    def __init__(self, issuer: str = ISSUER, metadata_path: str = "oauth-authorization-server"):
        self.signers = [Signer("k1")]
        self.issuer, self.metadata_path = issuer, metadata_path
        self.hits: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.hits.append(request.url.path)
        if request.url.path == f"/.well-known/{self.metadata_path}":
            return httpx.Response(200, json={"issuer": self.issuer, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [s.public for s in self.signers]})
        return httpx.Response(404)


class Timer:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(server: FakeServer, timer: Timer | None = None, **options: Any) -> JwksVerifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    return JwksVerifier(
        ISSUER, RESOURCE, http=http, clock=FrozenClock(NOW), timer=timer or Timer(), **options
    )


async def test_discovers_the_jwks_and_verifies_a_token() -> None:
    server = FakeServer()
    verified = await verifier(server).verify(server.signers[0].sign())
    assert (verified.subject, verified.client_id, verified.audience) == (
        "alice",
        "desktop",
        (RESOURCE,),
    )
    assert server.hits == ["/.well-known/oauth-authorization-server", "/jwks"]


async def test_falls_back_to_openid_configuration() -> None:
    server = FakeServer(metadata_path="openid-configuration")
    assert (await verifier(server).verify(server.signers[0].sign())).subject == "alice"
    assert "/.well-known/openid-configuration" in server.hits


async def test_metadata_naming_another_issuer_is_not_trusted() -> None:
    server = FakeServer(issuer=ISSUER + "/")
    with pytest.raises(InvalidToken, match="unavailable"):
        await verifier(server).verify(server.signers[0].sign())
    assert "/jwks" not in server.hits


async def test_the_jwks_is_cached_and_an_unknown_kid_refetches_once_per_interval() -> None:
    server, timer = FakeServer(), Timer()
    rs = verifier(server, timer)
    await rs.verify(server.signers[0].sign())
    await rs.verify(server.signers[0].sign())
    assert rs.fetches == 1
    server.signers.append(Signer("k2"))
    new_token = server.signers[1].sign()
    with pytest.raises(InvalidToken, match="unknown key"):  # fetched 0 s ago: no refetch
        await rs.verify(new_token)
    assert rs.fetches == 1
    timer.now += 30
    assert (await rs.verify(new_token)).subject == "alice"
    assert rs.fetches == 2
    with pytest.raises(InvalidToken, match="unknown key"):
        await rs.verify(Signer("made-up").sign())
    assert rs.fetches == 2


async def test_an_old_jwks_is_reread_so_removed_keys_stop_verifying() -> None:
    server, timer = FakeServer(), Timer()
    rs = verifier(server, timer)
    token = server.signers[0].sign()
    await rs.verify(token)
    server.signers = [Signer("k2")]
    timer.now += 300
    with pytest.raises(InvalidToken, match="unknown key"):
        await rs.verify(token)
    assert rs.fetches == 2


@pytest.mark.parametrize(
    ("token_claims", "words"),
    [
        pytest.param(claims(aud=OTHER_RESOURCE), "audience", id="other-resource"),
        pytest.param(claims(iss="https://evil.example"), "issuer", id="other-issuer"),
        pytest.param(claims(exp=NOW - 31), "expired", id="expired"),
    ],
)
async def test_good_signature_but_wrong_claims_is_refused(
    token_claims: dict[str, Any], words: str
) -> None:
    server = FakeServer()
    with pytest.raises(InvalidToken, match=words):
        await verifier(server).verify(server.signers[0].sign(token_claims))


async def test_an_unreachable_server_gives_invalid_token_without_the_token() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    token = Signer().sign()
    rs = JwksVerifier(ISSUER, RESOURCE, http=httpx.AsyncClient(transport=httpx.MockTransport(down)))
    with pytest.raises(InvalidToken) as refused:
        await rs.verify(token)
    assert token not in refused.value.description


@pytest.mark.parametrize(
    ("url", "loopback", "ok"),
    [
        ("https://as.example", False, True),
        ("http://as.example", False, False),
        ("http://as.example", True, False),
        ("http://127.0.0.1:8000", False, False),
        ("http://127.0.0.1:8000", True, True),
        ("http://[::1]:8000", True, True),
        ("ftp://as.example", True, False),
    ],
)
def test_only_https_or_opted_in_loopback_http(url: str, loopback: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, allow_http_loopback=loopback) == url
    else:
        with pytest.raises(DiscoveryError):
            check_url(url, allow_http_loopback=loopback)


def test_metadata_urls_insert_the_issuer_path() -> None:
    assert metadata_urls("https://as.example/tenant1") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]
