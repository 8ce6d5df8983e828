"""The official ``mcp`` SDK's OAuth client, with a person answering Ostiary's pages.

``Person`` plays the user: an httpx client that keeps its cookies like a browser, signs in once
and approves whatever each consent page asks; the redirect lands on a real loopback listener,
as with a native client. ``oauth_provider`` is the SDK's ``OAuthClientProvider`` wired to it,
registering itself dynamically as a public client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from tests.support.flows import CallbackListener, only_form, query_of
from tests.support.process import RunningServer


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
    username: str = "admin"
    password: str | None = None
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
                data = dict(form.fields) | {"username": self.username}
                data["password"] = self.password or self.server.admin_password
                answer = self.browser.post(action, data=data)
            else:
                self.pages.append("consent")
                scopes = [v for n, v, _ in form.checkboxes if n == "scope"]
                body: dict[str, str | list[str]] = {**dict(form.fields), "scope": scopes}
                answer = self.browser.post(action, data=body | {"decision": "approve"})
        arrived = httpx.get(url, timeout=10)  # the browser follows the redirect to the client
        assert arrived.status_code == 200


def oauth_provider(url: str, person: Person, storage: MemoryStorage) -> OAuthClientProvider:
    """The SDK's provider for ``url``: dynamic registration, ``person`` at the browser."""
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="SDK client",
            redirect_uris=[AnyUrl(person.callback.redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=person.redirect,
        callback_handler=person.callback_result,
    )
