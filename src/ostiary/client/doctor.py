"""``ostiary doctor URL``: walk the whole chain and say, per step, what works and what to change.

401 challenge → protected-resource metadata → authorization-server metadata → registration →
redirect → token → call. Each step is a ``Check``; the walk stops at the first failure, since
every later step depends on it. The token step signs in for real (it may open the browser)
unless a stored session already works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from ostiary.client import discovery
from ostiary.client.authorization import new_authorization
from ostiary.client.browser import check_authorization_url
from ostiary.client.callback import LoopbackCallback
from ostiary.client.challenges import bearer_challenge
from ostiary.client.errors import ClientError
from ostiary.client.mcp_session import connect
from ostiary.client.models import Challenge, ResourceMetadata, ServerMetadata
from ostiary.client.oauth import OAuthClient, preflight, probe
from ostiary.client.registration import obtain_registration


@dataclass(frozen=True, slots=True)
class Check:
    step: str
    ok: bool
    detail: str
    advice: str = ""


@dataclass
class _Found:
    challenge: Challenge | None = None
    protected: ResourceMetadata | None = None
    server: ServerMetadata | None = None


async def diagnose(client: OAuthClient, http: httpx.AsyncClient) -> AsyncIterator[Check]:
    """The checks in order; stops after the first failure."""
    found = _Found()
    steps: list[tuple[str, Callable[[], Awaitable[tuple[str, str]]]]] = [
        ("401 challenge", lambda: _challenge(client, http, found)),
        ("protected-resource metadata", lambda: _resource(client, http, found)),
        ("authorization-server metadata", lambda: _server(client, http, found)),
        ("registration", lambda: _registration(client, http, found)),
        ("redirect", lambda: _redirect(client, http, found)),
        ("token", lambda: _token(client)),
        ("call", lambda: _call(client)),
    ]
    for step, run in steps:
        try:
            detail, note = await run()
        except _Failed as exc:
            yield Check(step, False, exc.detail, exc.advice)
            return
        except ClientError as exc:
            yield Check(step, False, str(exc), ADVICE.get(step, ""))
            return
        except httpx.HTTPError as exc:
            yield Check(step, False, f"{exc.__class__.__name__}: {exc}", "Is the URL right?")
            return
        yield Check(step, True, detail, note)
        if step == "401 challenge" and note == "open":
            return


class _Failed(Exception):
    def __init__(self, detail: str, advice: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.advice = advice


ADVICE = {
    "protected-resource metadata": "The MCP server must publish RFC 9728 metadata whose "
    "'resource' is its own URL and whose 'authorization_servers' names its issuer.",
    "authorization-server metadata": "The issuer must publish RFC 8414 (or OpenID) metadata "
    "with that exact 'issuer', https endpoints and code_challenge_methods_supported: S256.",
    "registration": "Register a client at the server in advance and pass --client-id "
    "(and --client-secret-file), or enable dynamic registration there.",
    "redirect": "The server must accept http://127.0.0.1:<any port>/callback as a redirect "
    "URI for native clients (RFC 8252 §7.3).",
    "token": "Check the sign-in in the browser; run 'ostiary login URL --force' to start over.",
    "call": "Signed in, but the MCP request failed: check the server's logs.",
}


async def _challenge(
    client: OAuthClient, http: httpx.AsyncClient, found: _Found
) -> tuple[str, str]:
    answer = await probe(http, client.server_url)
    if answer.status_code < 300:
        return f"HTTP {answer.status_code} without a token: the server needs no sign-in", "open"
    if answer.status_code != 401:
        raise _Failed(
            f"HTTP {answer.status_code} without a token",
            "A protected MCP server answers 401 with WWW-Authenticate: Bearer (RFC 6750).",
        )
    found.challenge = bearer_challenge(answer.headers.get_list("www-authenticate"))
    if found.challenge is None:
        raise _Failed(
            "401 without a Bearer challenge",
            'Add WWW-Authenticate: Bearer resource_metadata="…" to the 401 (RFC 9728 §5.1).',
        )
    where = found.challenge.resource_metadata or "(no resource_metadata: will probe)"
    return f"Bearer, metadata at {where}, scope {found.challenge.scope or '-'}", ""


async def _resource(client: OAuthClient, http: httpx.AsyncClient, found: _Found) -> tuple[str, str]:
    header = found.challenge.resource_metadata if found.challenge else None
    found.protected = await discovery.fetch_resource_metadata(http, client.server_url, header)
    if found.protected is None:
        found.server = await discovery.fetch_legacy_metadata(http, client.server_url)
        return "none found: using the 2025-03-26 rules (metadata at the server's root)", ""
    servers = ", ".join(found.protected.authorization_servers)
    return f"resource {found.protected.resource}, authorization servers {servers}", ""


async def _server(client: OAuthClient, http: httpx.AsyncClient, found: _Found) -> tuple[str, str]:
    if found.server is None:
        assert found.protected is not None
        issuer = found.protected.authorization_servers[0]
        found.server = await discovery.fetch_server_metadata(http, issuer)
    server = found.server
    registration = "dynamic registration" if server.registration_endpoint else "no registration"
    cimd = ", metadata documents" if server.client_id_metadata_document_supported else ""
    return f"issuer {server.issuer}, S256, {registration}{cimd}", ""


async def _registration(
    client: OAuthClient, http: httpx.AsyncClient, found: _Found
) -> tuple[str, str]:
    assert found.server is not None
    stored = client.store.get_client(found.server.issuer)
    if stored is not None:
        return f"client {stored.client_id} ({stored.source}, stored)", ""
    registration = await obtain_registration(http, found.server, client.profile, now=0)
    client.store.put_client(registration)
    return f"client {registration.client_id} ({registration.source}, new)", ""


async def _redirect(client: OAuthClient, http: httpx.AsyncClient, found: _Found) -> tuple[str, str]:
    assert found.server is not None
    registration = client.store.get_client(found.server.issuer)
    assert registration is not None
    if client.options.machine:
        return "client_credentials: no redirect", ""
    async with LoopbackCallback(port=client.options.callback_port) as callback:
        pending = new_authorization(
            found.server,
            client_id=registration.client_id,
            redirect_uri=callback.redirect_uri,
            resource=client.resource,
            scope=None,
        )
        check_authorization_url(pending.url)
        answer = await preflight(http, pending.url)
    if 400 <= answer.status_code < 500:
        raise _Failed(
            f"the authorization endpoint refused the request (HTTP {answer.status_code})",
            ADVICE["redirect"] + " A stale registration is replaced on the next login.",
        )
    return f"{callback.redirect_uri} accepted (HTTP {answer.status_code})", ""


async def _token(client: OAuthClient) -> tuple[str, str]:
    session = await client.login()
    tokens = session.tokens
    assert tokens is not None
    scopes = tokens.scope or "-"
    return f"access token for {session.subject or 'the user'}, scopes {scopes}", ""


async def _call(client: OAuthClient) -> tuple[str, str]:
    async with connect(client) as session:
        listed = await session.list_tools()
    return f"initialize and tools/list: {len(listed.tools)} tools", ""
