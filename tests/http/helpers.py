"""The in-process server and the steps of the browser flow, as plain HTTP requests.

Fixtures live in ``conftest.py``; everything here is importable by the test modules.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from starlette.applications import Starlette

from ostiary.core.clock import FrozenClock
from ostiary.core.config import ServerConfig
from ostiary.core.models import AuthMethod, Client, ClientId, User, UserId
from ostiary.crypto.passwords import hash_password
from ostiary.crypto.server_secret import ServerKeys
from ostiary.server.app import create_app
from ostiary.server.context import ServerContext, build_context
from ostiary.server.safe_fetch import SafeFetcher
from ostiary.storage.memory import MemoryStorage

ISSUER = "http://127.0.0.1:8000"
RESOURCE = "http://127.0.0.1:8000/mcp"
TENANT_ISSUER = "https://as.example.com/tenant1"
TENANT_RESOURCE = "https://as.example.com/tenant1/mcp"

ALL_SCOPES = ["tools:read", "tools:execute", "resources:read", "resources:write", "prompts:read"]
SCOPE_TEXT = {
    "tools:read": "See the list of tools this server offers",
    "tools:execute": "Run tools on your behalf",
    "resources:read": "Read resources (files, records, documents) this server exposes",
    "resources:write": "Create, change or delete resources on this server",
    "prompts:read": "See and use the prompt templates this server offers",
}

USER_ID = UserId("user-alice")
USERNAME = "alice"
PASSWORD = "correct horse battery staple"

PUBLIC_ID = ClientId("public-app")
PUBLIC_NAME = "Desktop MCP Client"
LOOPBACK_REDIRECT = "http://127.0.0.1:33418/callback"
WEB_ID = ClientId("web-app")
WEB_NAME = "Web App"
WEB_REDIRECT = "https://app.example.com/oauth/callback"
BASIC_ID = ClientId("basic-client")
BASIC_SECRET = "a+b:c%"  # needs form-urlencoding inside HTTP Basic (RFC 6749 §2.3.1)
POST_ID = ClientId("post-client")
POST_SECRET = "post-secret-0123456789"
SERVICE_REDIRECT = "https://service.example.com/cb"

ODD_STATE = "s t&a=t/e?é+%20#x"

CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
REQUEST_FIELD = re.compile(r'<input type="hidden" name="request" value="([^"]*)">')
NEXT_FIELD = re.compile(r'<input type="hidden" name="next" value="([^"]*)">')
SCOPE_BOX = re.compile(r'<input type="checkbox" name="scope" value="([^"]+)" checked>')

Form = dict[str, str | list[str]]


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


def pkce_pair() -> tuple[str, str]:
    """A fresh RFC 7636 verifier and its S256 challenge, computed here independently."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic_auth(client_id: str, secret: str) -> str:
    """``Authorization: Basic`` with both parts form-urlencoded first, as RFC 6749 requires."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def single(params: dict[str, list[str]], name: str) -> str:
    values = params[name]
    assert len(values) == 1, (name, values)
    return values[0]


def field(pattern: re.Pattern[str], page: str) -> str:
    match = pattern.search(page)
    assert match is not None, f"no {pattern.pattern!r} in page:\n{page}"
    return html.unescape(match.group(1))


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Every ``Set-Cookie`` of a response: name -> {"value": ..., lowercased attributes}."""
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attrs = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        parsed = {"value": value}
        for attr in attrs:
            key, _, attr_value = attr.partition("=")
            parsed[key.lower()] = attr_value
        found[name] = parsed
    return found


@dataclass
class Server:
    """One in-process authorization server and a cookie-keeping browser pointed at it."""

    issuer: str
    resource: str
    ctx: ServerContext
    app: Starlette
    storage: MemoryStorage
    clock: FrozenClock
    browser: httpx.AsyncClient

    @property
    def base(self) -> str:
        """The issuer's path, which prefixes every endpoint (``""`` or ``/tenant1``)."""
        return urlsplit(self.issuer).path.rstrip("/")

    @property
    def origin(self) -> str:
        """Scheme and host: the clients' ``base_url`` (httpx would append paths to a path)."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def cookie_prefix(self) -> str:
        return "__Host-" if self.issuer.startswith("https:") else ""

    def new_browser(self) -> httpx.AsyncClient:
        """Another client with an empty cookie jar (close it when done)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=self.origin)

    # the authorization request
    def authorize_params(
        self,
        challenge: str,
        *,
        client_id: str = PUBLIC_ID,
        redirect_uri: str | None = LOOPBACK_REDIRECT,
        scope: str | None = "tools:read tools:execute",
        state: str | None = "xyz",
        **extra: str,
    ) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        optional = {"redirect_uri": redirect_uri, "scope": scope, "state": state}
        params.update({k: v for k, v in optional.items() if v is not None})
        params.update(extra)
        return params

    async def authorize(
        self, params: dict[str, str], browser: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        return await (browser or self.browser).get(f"{self.base}/authorize", params=params)

    # login
    async def login_page(
        self, next_url: str | None = None, browser: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        params = {"next": next_url} if next_url is not None else None
        return await (browser or self.browser).get(f"{self.base}/login", params=params)

    async def login(
        self,
        next_url: str | None = None,
        *,
        username: str = USERNAME,
        password: str = PASSWORD,
        browser: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """GET the login page for its CSRF token, then POST the form as a browser would."""
        page = await self.login_page(next_url, browser)
        assert page.status_code == 200, page.text
        form = {
            "csrf_token": field(CSRF_FIELD, page.text),
            "next": field(NEXT_FIELD, page.text),
            "username": username,
            "password": password,
        }
        return await (browser or self.browser).post(f"{self.base}/login", data=form)

    # consent
    async def decide(
        self,
        consent_page: httpx.Response,
        decision: str = "approve",
        scopes: list[str] | None = None,
        *,
        csrf_token: str | None = None,
        browser: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Submit the consent form; ``scopes`` defaults to every box the page ticked."""
        page = consent_page.text
        form: Form = {
            "csrf_token": csrf_token if csrf_token is not None else field(CSRF_FIELD, page),
            "request": field(REQUEST_FIELD, page),
            "decision": decision,
            "scope": scopes if scopes is not None else SCOPE_BOX.findall(page),
        }
        return await (browser or self.browser).post(f"{self.base}/consent", data=form)

    async def authorization_code(
        self, challenge: str, scopes: list[str] | None = None, **params: Any
    ) -> tuple[str, dict[str, list[str]]]:
        """Sign in if needed, approve if asked, and return the code and the redirect's query."""
        request = self.authorize_params(challenge, **params)
        response = await self.authorize(request)
        if response.status_code == 302 and "/login?" in response.headers["location"]:
            login = await self.login(single(query_of(response.headers["location"]), "next"))
            assert login.status_code == 303, login.text
            response = await self.authorize(request)
        if response.status_code == 200:
            response = await self.decide(response, scopes=scopes)
        assert response.status_code in {302, 303}, response.text
        query = query_of(response.headers["location"])
        return single(query, "code"), query

    # token endpoint
    async def token(
        self, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.browser.post(f"{self.base}/token", data=form, headers=headers)

    async def redeem(
        self,
        code: str,
        verifier: str,
        *,
        client_id: str = PUBLIC_ID,
        redirect_uri: str = LOOPBACK_REDIRECT,
        headers: dict[str, str] | None = None,
        **extra: str,
    ) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            **extra,
        }
        if headers is None or "Authorization" not in headers:
            form["client_id"] = client_id
        return await self.token(form, headers)

    async def refresh(self, refresh_token: str, client_id: str = PUBLIC_ID) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self.token({**form, "client_id": client_id})

    async def tokens(self, scopes: list[str] | None = None, **params: Any) -> dict[str, Any]:
        """The whole flow for the public client; the token response body."""
        verifier, challenge = pkce_pair()
        code, _ = await self.authorization_code(challenge, scopes, **params)
        response = await self.redeem(code, verifier)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def add_clients(server_storage: MemoryStorage, ctx: ServerContext) -> None:
    """A public loopback client, a public web client and two confidential clients."""
    hasher = ctx.deps.hasher
    clients = [
        Client(PUBLIC_ID, PUBLIC_NAME, (LOOPBACK_REDIRECT,)),
        Client(WEB_ID, WEB_NAME, (WEB_REDIRECT, "https://app.example.com/other")),
        Client(
            BASIC_ID,
            "Basic Service",
            (SERVICE_REDIRECT,),
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
            secret_hash=hasher.hash(BASIC_SECRET),
        ),
        Client(
            POST_ID,
            "Post Service",
            (SERVICE_REDIRECT,),
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_POST,
            secret_hash=hasher.hash(POST_SECRET),
        ),
    ]
    for client in clients:
        await server_storage.save_client(client)


@asynccontextmanager
async def running(
    issuer: str,
    resource: str,
    storage: MemoryStorage | None = None,
    templates_dir: Path | None = None,
    fetcher: SafeFetcher | None = None,
) -> AsyncIterator[Server]:
    """Build the context and app exactly as ``ostiary serve`` does, with a frozen clock."""
    storage = storage if storage is not None else MemoryStorage()
    clock = FrozenClock()
    ctx = await build_context(
        ServerConfig(issuer=issuer, resources=(resource,)),
        storage,
        ServerKeys.from_secret(secrets.token_bytes(32)),
        clock=clock,
        templates_dir=templates_dir,
        fetcher=fetcher,
    )
    await storage.add_user(User(USER_ID, USERNAME, password_hash(), created_at=clock.now()))
    await add_clients(storage, ctx)
    app = create_app(ctx)
    parts = urlsplit(issuer)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"{parts.scheme}://{parts.netloc}"
    ) as browser:
        yield Server(issuer, resource, ctx, app, storage, clock, browser)
