"""What a client and a person do: PKCE, a loopback callback, login and consent without a browser.

The callback listener is a real HTTP server on a free loopback port, like the one a native MCP
client opens for its redirect URI; it records every query it receives.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from joserfc.jwk import KeySet

from ostiary.crypto.jwt import verify_access_token
from tests.support.process import RunningServer

SCOPES = "tools:read tools:execute"
ODD_STATE = "s t&ü=/?#%+;'\"<>"


class ServerFactory(Protocol):
    """Starts ``ostiary serve`` with extra ``OSTIARY_*`` environment variables."""

    def __call__(self, **env: str) -> AbstractContextManager[RunningServer]: ...


# PKCE and the authorization request


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def authorization_url(
    issuer: str,
    *,
    client_id: str,
    redirect_uri: str,
    pkce: Pkce,
    state: str,
    scope: str = SCOPES,
    resource: str | None = None,
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": state,
            "scope": scope,
            "resource": resource or f"{issuer}/mcp",
        }
    )
    return f"{issuer}/authorize?{query}"


def query_of(url: str) -> dict[str, str]:
    """The query of ``url`` as single values; a repeated parameter is a test failure."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=False)
    assert all(len(v) == 1 for v in parsed.values()), f"repeated parameter in {url}"
    return {k: v[0] for k, v in parsed.items()}


# the client's loopback callback


@dataclass
class CallbackListener:
    port: int
    queries: list[dict[str, str]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def wait(self, count: int, timeout: float = 10.0) -> dict[str, str]:
        """Block until ``count`` callbacks arrived; return the last one."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.queries) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"callback {count} never arrived (got {self.queries})"
                self.arrived.wait(left)
            return self.queries[count - 1]


@contextmanager
def callback_listener() -> Iterator[CallbackListener]:
    listener = CallbackListener(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/callback":
                self.send_error(404)
                return
            with listener.arrived:
                listener.queries.append(query_of(self.path))
                listener.arrived.notify_all()
            body = b"<!doctype html><title>Done</title><p>You can close this window.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    listener.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# HTML forms, as a browser would submit them


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]]
    checkboxes: list[tuple[str, str, bool]]
    buttons: list[tuple[str, str]]

    def value(self, name: str) -> str:
        values = [v for n, v in self.fields if n == name]
        assert len(values) == 1, f"form field {name!r}: {values}"
        return values[0]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), [], [], []))
        elif not self.forms:
            return
        elif tag == "input" and a.get("type") == "checkbox":
            self.forms[-1].checkboxes.append((a["name"], a.get("value", "on"), "checked" in a))
        elif tag == "input" and "name" in a:
            self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and "name" in a:
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def only_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    assert len(parser.forms) == 1, html
    return parser.forms[0]


def authorize_with_httpx(
    http: httpx.Client,
    url: str,
    *,
    username: str,
    password: str,
    approve: frozenset[str] | None = None,
) -> str:
    """Sign in and approve (``approve``: the scopes to leave checked; None keeps all).

    ``http`` keeps the cookies, like a browser. Returns the redirect URL to the client.
    """
    response = http.get(url)
    assert response.status_code == 302, response.text
    login_url = urljoin(url, response.headers["location"])
    assert urlsplit(login_url).path == "/login", login_url
    login = http.get(login_url)
    assert login.status_code == 200, login.text
    form = only_form(login.text)
    data = dict(form.fields) | {"username": username, "password": password}
    response = http.post(urljoin(login_url, form.action), data=data)
    assert response.status_code == 303, response.text
    next_url = urljoin(login_url, response.headers["location"])
    consent = http.get(next_url)
    assert consent.status_code == 200, consent.text
    form = only_form(consent.text)
    scopes = [
        v for n, v, _ in form.checkboxes if n == "scope" and (approve is None or v in approve)
    ]
    body: dict[str, str | list[str]] = {**dict(form.fields), "scope": scopes}
    response = http.post(urljoin(next_url, form.action), data=body | {"decision": "approve"})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


# the token endpoint


def exchange_code(
    http: httpx.Client, issuer: str, *, code: str, pkce: Pkce, client_id: str, redirect_uri: str
) -> httpx.Response:
    return http.post(f"{issuer}/token", data=code_form(code, pkce, client_id, redirect_uri, issuer))


def code_form(
    code: str, pkce: Pkce, client_id: str, redirect_uri: str, issuer: str
) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": pkce.verifier,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "resource": f"{issuer}/mcp",
    }


def refresh_form(refresh_token: str, client_id: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}


def verified_claims(http: httpx.Client, issuer: str, access_token: str) -> dict[str, Any]:
    """Verify the JWT against the server's published JWKS; return its claims."""
    jwks = http.get(f"{issuer}/jwks")
    assert jwks.status_code == 200, jwks.text
    return verify_jwt(access_token, jwks.json(), issuer)


def verify_jwt(access_token: str, jwks: Any, issuer: str) -> dict[str, Any]:
    """RFC 9068 checks with the server's key set, for the default resource ``{issuer}/mcp``."""
    keys = KeySet.import_key_set(jwks)
    return verify_access_token(
        access_token, keys, issuer=issuer, audience=f"{issuer}/mcp", now=int(time.time())
    )


def jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".", 1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return decoded


def oauth_error(response: httpx.Response) -> str:
    """The ``error`` code of a 400 token response."""
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["cache-control"] == "no-store", response.headers
    error = response.json()["error"]
    assert isinstance(error, str)
    return error


def sign_in(
    server: RunningServer,
    callback: CallbackListener,
    *,
    issuer: str | None = None,
    resource: str | None = None,
    scope: str = SCOPES,
    username: str = "admin",
    password: str | None = None,
) -> dict[str, Any]:
    """A new public client, then login and consent with httpx: the token response, with the
    client id added. ``issuer`` is the URL the server is reached at (its issuer by default);
    ``resource`` is its ``/mcp`` unless given."""
    issuer = issuer or server.issuer
    client_id, _ = server.add_client("--name", "Desktop", "--redirect-uri", callback.redirect_uri)
    pkce = Pkce.new()
    url = authorization_url(
        issuer,
        client_id=client_id,
        redirect_uri=callback.redirect_uri,
        pkce=pkce,
        state="m",
        scope=scope,
        resource=resource or f"{issuer}/mcp",
    )
    with httpx.Client(timeout=10) as http:
        location = authorize_with_httpx(
            http, url, username=username, password=password or server.admin_password
        )
        form = code_form(query_of(location)["code"], pkce, client_id, callback.redirect_uri, issuer)
        if resource is not None:
            form["resource"] = resource
        issued = http.post(f"{issuer}/token", data=form)
    assert issued.status_code == 200, issued.text
    body: dict[str, Any] = issued.json()
    assert set(body["scope"].split()) == set(scope.split())
    return body | {"client_id": client_id}
