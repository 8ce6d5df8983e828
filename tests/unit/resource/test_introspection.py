"""``IntrospectionVerifier`` against an ``httpx.MockTransport`` RFC 7662 endpoint."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ostiary.core.clock import FrozenClock
from ostiary.resource.tokens import InvalidToken
from ostiary.resource.verifiers import IntrospectionVerifier
from ostiary.resource.verifiers.introspection import basic_auth

from .verifier_support import ISSUER, NOW, OTHER_RESOURCE, RESOURCE, claims

TOKEN = "opaque-token-value-1234567890"


class Timer:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeServer:
    def __init__(self) -> None:
        self.answer: dict[str, Any] = {"active": True, **claims(), "token_type": "Bearer"}
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200, json={"issuer": ISSUER, "introspection_endpoint": f"{ISSUER}/introspect"}
            )
        if request.url.path == "/introspect":
            return httpx.Response(200, json=self.answer)
        return httpx.Response(404)


def make(
    server: FakeServer, timer: Timer | None = None, clock: FrozenClock | None = None, **kw: Any
) -> IntrospectionVerifier:
    return IntrospectionVerifier(
        ISSUER,
        RESOURCE,
        client_id="rs client",
        client_secret="s:ecret",
        http=httpx.AsyncClient(transport=httpx.MockTransport(server.handle)),
        clock=clock or FrozenClock(NOW),
        timer=timer or Timer(),
        **kw,
    )


async def test_an_active_answer_verifies_and_the_request_is_authenticated() -> None:
    server = FakeServer()
    verified = await make(server).verify(TOKEN)
    assert (verified.subject, verified.client_id, verified.scopes) == (
        "alice",
        "desktop",
        frozenset({"tools:read", "tools:execute"}),
    )
    request = server.requests[-1]
    assert request.url.path == "/introspect"
    assert parse_qs(request.content.decode()) == {
        "token": [TOKEN],
        "token_type_hint": ["access_token"],
    }
    encoded = request.headers["authorization"].removeprefix("Basic ")
    assert base64.b64decode(encoded).decode() == "rs%20client:s%3Aecret"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        pytest.param({"active": False}, "not active", id="inactive"),
        pytest.param({"active": "true", **claims()}, "not active", id="active-not-boolean"),
        pytest.param({"active": True, **claims(aud=OTHER_RESOURCE)}, "audience", id="other-aud"),
        pytest.param({"active": True, **claims(aud=None)}, "audience", id="no-aud"),
        pytest.param({"active": True, **claims(iss="https://x")}, "issuer", id="other-iss"),
        pytest.param({"active": True, **claims(exp=NOW - 31)}, "expired", id="expired"),
        pytest.param({"active": True, **claims(nbf=NOW + 31)}, "not yet", id="nbf"),
        pytest.param(
            {"active": True, **claims(), "token_type": "refresh_token"},
            "not an access token",
            id="refresh-token",
        ),
        pytest.param({"active": True, **claims(client_id=None)}, "no client", id="no-client"),
    ],
)
async def test_answers_that_do_not_hold_are_refused(answer: dict[str, Any], words: str) -> None:
    server = FakeServer()
    server.answer = answer
    with pytest.raises(InvalidToken, match=words) as refused:
        await make(server).verify(TOKEN)
    assert TOKEN not in refused.value.description


async def test_without_sub_the_client_is_the_subject() -> None:
    server = FakeServer()
    server.answer = {"active": True, **claims(sub=None)}
    assert (await make(server).verify(TOKEN)).subject == "desktop"


async def test_answers_are_cached_for_the_ttl_then_asked_again() -> None:
    server, timer = FakeServer(), Timer()
    rs = make(server, timer, cache_ttl=10)
    await rs.verify(TOKEN)
    await rs.verify(TOKEN)
    assert rs.requests == 1
    server.answer = {"active": False}  # revoked meanwhile
    timer.now += 9.9
    assert (await rs.verify(TOKEN)).subject == "alice"
    timer.now += 0.1
    with pytest.raises(InvalidToken, match="not active"):
        await rs.verify(TOKEN)
    assert rs.requests == 2


async def test_a_cache_entry_never_outlives_the_token() -> None:
    server, timer, clock = FakeServer(), Timer(), FrozenClock(NOW)
    server.answer = {"active": True, **claims(exp=NOW + 5)}
    rs = make(server, timer, clock, cache_ttl=60)
    await rs.verify(TOKEN)
    timer.now += 4.9
    await rs.verify(TOKEN)
    assert rs.requests == 1
    timer.now += 0.1
    await rs.verify(TOKEN)
    assert rs.requests == 2


async def test_a_cached_answer_is_refused_once_the_wall_clock_passes_exp() -> None:
    server, clock = FakeServer(), FrozenClock(NOW)
    server.answer = {"active": True, **claims(exp=NOW + 20)}
    rs = make(server, clock=clock, cache_ttl=60)
    await rs.verify(TOKEN)
    clock.advance(20 + 30)
    with pytest.raises(InvalidToken, match="expired"):
        await rs.verify(TOKEN)


async def test_the_cache_is_bounded_and_keyed_by_a_hash_not_the_token() -> None:
    server = FakeServer()
    rs = make(server, cache_size=2)
    for n in range(5):
        await rs.verify(f"{TOKEN}-{n}")
    assert len(rs._cache) == 2
    assert all(TOKEN.encode() not in key for key in rs._cache._entries)
    await rs.verify(f"{TOKEN}-0")  # evicted: asked again
    assert rs.requests == 6


async def test_an_explicit_endpoint_skips_discovery_and_errors_say_no_token() -> None:
    server = FakeServer()
    rs = make(server, introspection_endpoint=f"{ISSUER}/introspect")
    await rs.verify(TOKEN)
    assert [r.url.path for r in server.requests] == ["/introspect"]

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    failing = IntrospectionVerifier(
        ISSUER,
        RESOURCE,
        client_id="rs",
        client_secret="bad",
        introspection_endpoint=f"{ISSUER}/introspect",
        http=httpx.AsyncClient(transport=httpx.MockTransport(broken)),
    )
    with pytest.raises(InvalidToken, match="refused") as refused:
        await failing.verify(TOKEN)
    assert TOKEN not in refused.value.description


def test_basic_auth_form_urlencodes_both_parts() -> None:
    assert basic_auth("a b", "c:d") == "Basic " + base64.b64encode(b"a%20b:c%3Ad").decode()
