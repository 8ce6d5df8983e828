"""``OAuthClient`` and the ``OAuth`` adapter against an authorization server and an MCP server
that follow the spec, in one ``httpx.MockTransport`` (they are the client's counterparts, not
our own server). The person is an opener that approves at once: it sends the redirect to the
client's real loopback listener, as a browser would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ostiary.client.errors import StepUpLimit
from ostiary.client.httpx_auth import OAuth
from ostiary.client.memory_store import MemoryStore
from ostiary.client.models import ClientRegistration, Session
from ostiary.client.oauth import ClientOptions, OAuthClient, union_scopes
from ostiary.client.registration import ClientProfile

AS = "https://as.example"
MCP = "https://mcp.example/mcp"
PRM = "https://mcp.example/.well-known/oauth-protected-resource/mcp"


@dataclass
class Issued:
    scope: set[str]
    refresh: str | None
    alive: bool = True


@dataclass
class World:
    """The authorization server and the MCP server, and what they saw."""

    expires_in: int = 3600
    needs: dict[str, set[str]] = field(default_factory=lambda: {"tools/list": {"read"}})
    clients: set[str] = field(default_factory=set)
    codes: dict[str, tuple[str, str, set[str]]] = field(default_factory=dict)
    tokens: dict[str, Issued] = field(default_factory=dict)
    refreshes: dict[str, str] = field(default_factory=dict)  # refresh token -> access token
    authorizations: list[dict[str, str]] = field(default_factory=list)
    grants: list[dict[str, str]] = field(default_factory=list)
    registrations: int = 0
    silent_403: bool = False
    refuse_client_once: bool = False
    advertised: list[str] = field(default_factory=lambda: ["read"])
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def handler(self, request: httpx.Request) -> httpx.Response:
        routes = {
            PRM: self.resource_metadata,
            f"{AS}/.well-known/oauth-authorization-server": self.server_metadata,
            f"{AS}/register": self.register,
            f"{AS}/authorize": self.authorize,
            f"{AS}/token": self.token,
            MCP: self.mcp,
        }
        route = routes.get(str(request.url).split("?")[0])
        return httpx.Response(404) if route is None else route(request)

    def resource_metadata(self, request: httpx.Request) -> httpx.Response:
        body = {"resource": MCP, "authorization_servers": [AS], "scopes_supported": self.advertised}
        return httpx.Response(200, json=body)

    def server_metadata(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.metadata())

    def register(self, request: httpx.Request) -> httpx.Response:
        self.registrations += 1
        client_id = f"c{next(self.counter)}"
        self.clients.add(client_id)
        return httpx.Response(201, json={**json.loads(request.content), "client_id": client_id})

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": AS,
            "authorization_endpoint": f"{AS}/authorize",
            "token_endpoint": f"{AS}/token",
            "registration_endpoint": f"{AS}/register",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }

    def authorize(self, request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        if query["client_id"] not in self.clients:
            return httpx.Response(400, text="unknown client")
        return httpx.Response(302, headers={"location": "/login"})

    def approve(self, url: str) -> str:
        """What the person's browser does: sign in, approve, follow the redirect."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.authorizations.append(query)
        code = f"code{next(self.counter)}"
        scope = set(query.get("scope", "").split())
        self.codes[code] = (query["client_id"], query["code_challenge"], scope)
        back = {"code": code, "state": query["state"], "iss": AS}
        return f"{query['redirect_uri']}?{urlencode(back)}"

    def token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.grants.append(form)
        if form.get("resource") != MCP:
            return httpx.Response(400, json={"error": "invalid_target"})
        if self.refuse_client_once:
            self.refuse_client_once = False
            return httpx.Response(401, json={"error": "invalid_client"})
        if form["grant_type"] == "authorization_code":
            client_id, challenge, scope = self.codes.pop(form["code"])
            digest = hashlib.sha256(form["code_verifier"].encode()).digest()
            assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
            assert form["client_id"] == client_id
        else:
            access = self.refreshes.pop(form["refresh_token"], None)
            if access is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            scope = self.tokens[access].scope
        return httpx.Response(200, json=self.issue(scope))

    def issue(self, scope: set[str]) -> dict[str, Any]:
        access, refresh = f"at{next(self.counter)}", f"rt{next(self.counter)}"
        self.tokens[access] = Issued(scope, refresh)
        self.refreshes[refresh] = access
        answer = {"access_token": access, "token_type": "Bearer", "refresh_token": refresh}
        return answer | {"expires_in": self.expires_in, "scope": " ".join(sorted(scope))}

    def mcp(self, request: httpx.Request) -> httpx.Response:
        method = json.loads(request.content)["method"]
        needed = self.needs.get(method, set())
        auth = request.headers.get("authorization", "")
        issued = self.tokens.get(auth.removeprefix("Bearer "))
        base = f'Bearer resource_metadata="{PRM}"'
        if issued is None or not issued.alive:
            scope = " ".join(sorted(needed or {"read"}))
            return httpx.Response(401, headers={"www-authenticate": f'{base}, scope="{scope}"'})
        if not needed <= issued.scope:
            challenge = f'{base}, error="insufficient_scope"'
            if not self.silent_403:
                challenge += f', scope="{" ".join(sorted(needed))}"'
            return httpx.Response(403, headers={"www-authenticate": challenge})
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})


@dataclass
class Person:
    world: World
    opened: list[str] = field(default_factory=list)

    async def __call__(self, url: str) -> None:
        self.opened.append(url)
        back = self.world.approve(url)
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(back)
        assert answer.status_code == 200


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_client(
    world: World, store: MemoryStore, person: Person, clock: Clock | None = None, **options: Any
) -> OAuthClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(world.handler))
    return OAuthClient(
        MCP,
        store=store,
        profile=ClientProfile(client_name="Tests"),
        opener=person,
        options=ClientOptions(**options),
        http=http,
        clock=clock or Clock(),
    )


async def rpc(client: OAuthClient, world: World, method: str) -> httpx.Response:
    transport = httpx.MockTransport(world.handler)
    async with httpx.AsyncClient(transport=transport, auth=OAuth(client)) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": method}
        return await http.post(MCP, json=body)


async def test_first_request_logs_in_and_a_restart_reuses_the_tokens() -> None:
    world, store = World(), MemoryStore()
    person = Person(world)
    answer = await rpc(make_client(world, store, person), world, "tools/list")
    assert answer.status_code == 200
    assert len(person.opened) == 1
    (asked,) = world.authorizations
    assert asked["scope"] == "read"  # from the challenge
    assert asked["resource"] == MCP and asked["code_challenge_method"] == "S256"
    session = store.get_session(MCP)
    assert session is not None and session.tokens is not None
    assert session.tokens.scope == "read"
    # a new client object (a restarted process) with the same store signs in no more
    again = await rpc(make_client(world, store, Person(world)), world, "tools/list")
    assert again.status_code == 200
    assert world.registrations == 1 and len(world.authorizations) == 1


async def test_a_token_about_to_expire_is_refreshed_before_use_and_rotation_is_saved() -> None:
    world, store, clock = World(), MemoryStore(), Clock()
    person = Person(world)
    await rpc(make_client(world, store, person, clock), world, "tools/list")
    first = store.get_session(MCP)
    assert first is not None and first.tokens is not None
    clock.now += 3600 - 30  # within the 60 s skew of the hour's end
    answer = await rpc(make_client(world, store, person, clock), world, "tools/list")
    assert answer.status_code == 200
    renewed = store.get_session(MCP)
    assert renewed is not None and renewed.tokens is not None
    assert world.grants[-1]["grant_type"] == "refresh_token"
    assert world.grants[-1]["resource"] == MCP
    assert renewed.tokens.refresh_token != first.tokens.refresh_token
    assert len(person.opened) == 1


async def test_a_401_refreshes_once_and_a_refused_refresh_means_a_new_login() -> None:
    world, store = World(), MemoryStore()
    person = Person(world)
    client = make_client(world, store, person)
    await rpc(client, world, "tools/list")
    session = store.get_session(MCP)
    assert session is not None and session.tokens is not None
    world.tokens[session.tokens.access_token].alive = False  # revoked at the server
    assert (await rpc(client, world, "tools/list")).status_code == 200
    assert world.grants[-1]["grant_type"] == "refresh_token"
    assert len(person.opened) == 1
    # the whole grant revoked: the refresh token is refused too, so the person signs in again
    renewed = store.get_session(MCP)
    assert renewed is not None and renewed.tokens is not None
    world.tokens[renewed.tokens.access_token].alive = False
    world.refreshes.clear()
    assert (await rpc(client, world, "tools/list")).status_code == 200
    assert len(person.opened) == 2


async def test_step_up_asks_for_the_union_and_stops_when_it_cannot_help() -> None:
    world, store = World(), MemoryStore()
    world.needs["tools/call"] = {"read", "write"}
    person = Person(world)
    client = make_client(world, store, person)
    assert (await rpc(client, world, "tools/list")).status_code == 200
    assert (await rpc(client, world, "tools/call")).status_code == 200
    assert [a.get("scope") for a in world.authorizations] == ["read", "read write"]
    # a server whose demand no grant can meet: the token already holds what it names
    world.needs["tools/call"] = {"read", "write"}
    session = store.get_session(MCP)
    assert session is not None and session.tokens is not None
    world.tokens[session.tokens.access_token].scope = {"read"}  # the server forgot it
    with pytest.raises(StepUpLimit, match="already holds"):
        await rpc(client, world, "tools/call")
    assert len(person.opened) == 2


async def test_step_ups_are_capped_per_operation() -> None:
    world, store = World(), MemoryStore()
    person = Person(world)
    client = make_client(world, store, person, max_step_ups=2)
    await rpc(client, world, "tools/list")
    for extra in ("a", "b", "c"):
        world.needs["tools/call"] = {"read", extra}
        if extra == "c":
            with pytest.raises(StepUpLimit, match="after 2 re-authorizations"):
                await rpc(client, world, "tools/call")
        else:
            assert (await rpc(client, world, "tools/call")).status_code == 200
    assert len(person.opened) == 3  # the login and two step-ups


async def test_a_forgotten_dynamic_registration_is_made_again() -> None:
    world, store = World(), MemoryStore()
    old = ClientRegistration("gone", AS, "dynamic", registered_at=1)  # an earlier run's
    store.put_client(old)
    person = Person(world)
    assert (await rpc(make_client(world, store, person), world, "tools/list")).status_code == 200
    registration = store.get_client(AS)
    assert registration is not None and registration.client_id != "gone"
    assert world.authorizations[0]["client_id"] == registration.client_id
    assert world.registrations == 1


async def test_concurrent_requests_share_one_login() -> None:
    world, store = World(), MemoryStore()
    person = Person(world)
    client = make_client(world, store, person)
    answers = await asyncio.gather(*(rpc(client, world, "tools/list") for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert len(person.opened) == 1 and world.registrations == 1


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("read", "read write", None, ""), "read write"),
        (("b a", "a c"), "b a c"),
        ((None,), ""),
    ],
)
def test_union_scopes(parts: tuple[str | None, ...], expected: str) -> None:
    assert union_scopes(*parts) == expected


async def test_a_403_naming_no_scope_widens_to_the_advertised_scopes() -> None:
    world, store = World(), MemoryStore()
    world.needs["tools/call"] = {"read", "write"}
    world.silent_403 = True  # like the official SDK's middleware: no scope in the challenge
    world.advertised = ["read", "write"]
    person = Person(world)
    client = make_client(world, store, person, scope="none")
    assert (await rpc(client, world, "tools/call")).status_code == 200
    assert [a.get("scope") for a in world.authorizations] == ["none", "none read write"]


async def test_a_403_with_nothing_more_to_ask_for_is_not_retried() -> None:
    world, store = World(), MemoryStore()
    world.needs["tools/call"] = {"admin"}
    world.silent_403 = True
    person = Person(world)
    client = make_client(world, store, person)
    await rpc(client, world, "tools/list")
    with pytest.raises(StepUpLimit, match="already holds"):
        await rpc(client, world, "tools/call")  # the advertised "read" is already held
    assert len(person.opened) == 1


async def test_a_short_lived_token_is_not_refreshed_on_every_request() -> None:
    world, store = World(expires_in=100), MemoryStore()  # shorter than twice the 60 s skew
    person = Person(world)
    client = make_client(world, store, person)
    for _ in range(3):
        assert (await rpc(client, world, "tools/list")).status_code == 200
    assert [g["grant_type"] for g in world.grants] == ["authorization_code"]


async def test_invalid_client_at_the_token_endpoint_registers_again_once() -> None:
    world, store = World(refuse_client_once=True), MemoryStore()
    person = Person(world)
    messages: list[str] = []
    client = make_client(world, store, person)
    client._progress = messages.append
    assert (await rpc(client, world, "tools/list")).status_code == 200
    assert world.registrations == 2 and len(person.opened) == 2
    assert "registering again" in " ".join(messages)
    assert messages[-1] == f"Signed in to {MCP}."


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_session(self, resource: str) -> Session | None:
        self.reads += 1
        return super().get_session(resource)


async def test_a_stream_of_requests_reads_the_store_once() -> None:
    world, store, clock = World(), CountingStore(), Clock()
    person = Person(world)
    client = make_client(world, store, person, clock)
    assert (await rpc(client, world, "tools/list")).status_code == 200
    before = store.reads
    for _ in range(5):
        assert (await rpc(client, world, "tools/list")).status_code == 200
    assert store.reads - before == 1  # the first read is kept while the token is fresh
    clock.now += 3600 - 30  # near expiry: the store is read again and the token refreshed
    assert (await rpc(client, world, "tools/list")).status_code == 200
    assert world.grants[-1]["grant_type"] == "refresh_token"
    session = store.get_session(MCP)
    assert session is not None and session.tokens is not None
    world.tokens[session.tokens.access_token].alive = False  # revoked: the kept token is dropped
    assert (await rpc(client, world, "tools/list")).status_code == 200
    assert world.grants[-1]["grant_type"] == "refresh_token"
