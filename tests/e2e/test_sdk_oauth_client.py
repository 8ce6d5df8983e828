"""The official ``mcp`` SDK's own OAuth client against ``ostiary serve``, with nothing pre-arranged.

``OAuthClientProvider`` starts from a bare ``/mcp`` URL: it reads the 401 challenge, fetches the
protected-resource and authorization-server metadata, registers itself dynamically, sends the
person to ``/authorize``, redeems the code and retries. The person is played by an httpx client
that keeps its cookies like a browser and answers the login and consent pages; the redirect
lands on a real loopback listener, as with a native client. Later ``tools/call`` requests need
scopes the first grant lacks, so the SDK must step up on the 403 by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl
from tests.support.flows import CallbackListener, only_form, query_of
from tests.support.process import RunningServer, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "as") as running:
        yield running


@dataclass
class MemoryStorage:
    """The SDK's ``TokenStorage``, kept in memory; it records every token set it is given."""

    tokens: OAuthToken | None = None
    client: OAuthClientInformationFull | None = None
    issued: list[OAuthToken] = field(default_factory=list)

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.issued.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@dataclass
class Person:
    """Signs in once, then approves whatever each consent page asks; remembers what it saw."""

    server: RunningServer
    callback: CallbackListener
    browser: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))
    requests: list[dict[str, str]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    async def redirect(self, authorization_url: str) -> None:
        self.requests.append(query_of(authorization_url))
        await asyncio.to_thread(self._authorize, authorization_url)

    async def callback_result(self) -> AuthorizationCodeResult:
        query = await asyncio.to_thread(self.callback.wait, len(self.requests))
        assert "error" not in query, query
        return AuthorizationCodeResult(code=query["code"], state=query["state"], iss=query["iss"])

    def _authorize(self, url: str) -> None:
        answer = self.browser.get(url)
        while True:
            if answer.status_code in (302, 303):
                url = urljoin(url, answer.headers["location"])
                if url.startswith(self.callback.redirect_uri):
                    break
                answer = self.browser.get(url)
                continue
            assert answer.status_code == 200, (answer.status_code, answer.text)
            form = only_form(answer.text)
            action = urljoin(url, form.action)
            if "password" in dict(form.fields):
                self.pages.append("login")
                data = dict(form.fields) | {"username": "admin"}
                data["password"] = self.server.admin_password
                answer = self.browser.post(action, data=data)
            else:
                self.pages.append("consent")
                scopes = [v for n, v, _ in form.checkboxes if n == "scope"]
                body: dict[str, str | list[str]] = {**dict(form.fields), "scope": scopes}
                answer = self.browser.post(action, data=body | {"decision": "approve"})
        arrived = httpx.get(url, timeout=10)  # the browser follows the redirect to the client
        assert arrived.status_code == 200


def requested_scopes(query: dict[str, str]) -> set[str]:
    return set(query.get("scope", "").split())


async def test_the_sdk_client_discovers_registers_signs_in_and_steps_up(
    server: RunningServer, callback: CallbackListener
) -> None:
    url = f"{server.issuer}/mcp"
    person = Person(server, callback)
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="SDK client",
            redirect_uris=[AnyUrl(callback.redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=person.redirect,
        callback_handler=person.callback_result,
    )
    try:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=15) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            assert init.server_info.name == "Ostiary notes"
            # the first grant is the baseline the 401 named: reading, not executing
            first = requested_scopes(person.requests[0])
            assert "tools:read" in first and "tools:execute" not in first
            tools = await session.list_tools()
            names = {t.name for t in tools.tools}
            assert names == {"list_notes", "read_note", "add_note", "delete_note"}
            assert len(person.requests) == 1

            added = await session.call_tool("add_note", {"title": "t", "body": "hello"})
            assert added.is_error is False, added
            # the 403 on tools/call made the SDK ask again, for the union of scopes
            second = requested_scopes(person.requests[1])
            assert first | {"tools:execute", "resources:write"} <= second
            note_id = added.structured_content["result"]

            listed = await session.call_tool("list_notes", {})
            assert listed.structured_content["result"][0]["id"] == note_id
            deleted = await session.call_tool("delete_note", {"note_id": note_id})
            assert deleted.is_error is False, deleted
            assert len(person.requests) == 2  # the widened grant covers the rest
    finally:
        person.browser.close()

    # discovery, registration and the authorization request, as the SDK did them
    assert storage.client is not None and storage.client.client_id
    assert all(q["client_id"] == storage.client.client_id for q in person.requests)
    assert all(q["resource"] == url for q in person.requests)
    assert all(q["code_challenge_method"] == "S256" for q in person.requests)
    # signed in once; the step-up only asked for consent to the new scopes
    assert person.pages == ["login", "consent", "consent"], person.pages
    assert len(storage.issued) == 2
    granted = set((storage.issued[-1].scope or "").split())
    assert {"tools:execute", "resources:write"} <= granted
    registered = server.cli("client", "list")
    assert registered.returncode == 0, registered.stderr
    assert storage.client.client_id in registered.stdout
