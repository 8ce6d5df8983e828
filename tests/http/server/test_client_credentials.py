"""The client credentials grant over HTTP, with a secret and with ``private_key_jwt``."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, KeySet, OctKey

from ostiary.core.client_assertion import CLIENT_ASSERTION_TYPE
from ostiary.core.clock import FrozenClock
from ostiary.core.config import ServerConfig
from ostiary.core.models import AuthMethod, Client, ClientId, GrantType
from ostiary.crypto.server_secret import ServerKeys
from ostiary.server.app import create_app
from ostiary.server.client_keys import CACHE_TTL, REFETCH_INTERVAL
from ostiary.server.context import build_context
from ostiary.storage.memory import MemoryStorage

from ..helpers import (
    BASIC_ID,
    BASIC_SECRET,
    ISSUER,
    RESOURCE,
    Server,
    add_clients,
    basic_auth,
)

SERVICE_ID = ClientId("machine-service")
SERVICE_SECRET = "machine-secret-0123456789abcdefghijklmnop"


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error


async def add_service(server: Server) -> None:
    await server.storage.save_client(
        Client(
            SERVICE_ID,
            "Machine",
            (),
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
            grant_types=(GrantType.CLIENT_CREDENTIALS,),
            secret_hash=server.ctx.deps.hasher.hash(SERVICE_SECRET),
        )
    )


def access_claims(server: Server, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(server.ctx.keyring.jwks)  # type: ignore[arg-type]
    claims: dict[str, Any] = jose_jwt.decode(token, keys, algorithms=["ES256"]).claims
    return claims


async def test_secret_client_gets_an_access_token_only(server: Server) -> None:
    await add_service(server)
    response = await server.token(
        {"grant_type": "client_credentials", "scope": "tools:read"},
        {"Authorization": basic_auth(SERVICE_ID, SERVICE_SECRET)},
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["scope"] == "tools:read" and body["token_type"] == "Bearer"
    claims = access_claims(server, body["access_token"])
    assert claims["sub"] == SERVICE_ID and claims["client_id"] == SERVICE_ID
    assert claims["aud"] == RESOURCE and claims["iss"] == ISSUER


async def test_wrong_secret_is_invalid_client(server: Server) -> None:
    await add_service(server)
    response = await server.token(
        {"grant_type": "client_credentials"},
        {"Authorization": basic_auth(SERVICE_ID, "wrong")},
    )
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_client_not_registered_for_the_grant(server: Server) -> None:
    response = await server.token(
        {"grant_type": "client_credentials"},
        {"Authorization": basic_auth(BASIC_ID, BASIC_SECRET)},
    )
    assert_error(response, 400, "unauthorized_client")


async def test_unknown_resource_is_invalid_target(server: Server) -> None:
    await add_service(server)
    response = await server.token(
        {"grant_type": "client_credentials", "resource": "https://elsewhere.example.com/mcp"},
        {"Authorization": basic_auth(SERVICE_ID, SERVICE_SECRET)},
    )
    assert_error(response, 400, "invalid_target")


async def test_metadata_lists_the_grant(server: Server) -> None:
    body = (await server.browser.get("/.well-known/oauth-authorization-server")).json()
    assert "client_credentials" in body["grant_types_supported"]


# private_key_jwt ------------------------------------------------------------------------

JWT_ID = ClientId("jwt-service")
URI_ID = ClientId("jwks-uri-service")
CLIENT_KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})
OTHER_KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})
ROTATED_KEY = ECKey.generate_key("P-256", parameters={"kid": "k2"})


def public_jwks(*keys: ECKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


class JwksHost:
    """A real HTTP server on 127.0.0.1: ``/jwks`` and some bad answers."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = public_jwks(CLIENT_KEY)
        self.hits = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.hits += 1
                if self.path == "/jwks":
                    self._send(200, json.dumps(host.document).encode())
                elif self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/jwks")
                    self.end_headers()
                elif self.path == "/huge":
                    self._send(200, b'{"keys":[' + b" " * (70 * 1024) + b"]}")
                elif self.path == "/not-json":
                    self._send(200, b"<html></html>")
                else:
                    self._send(404, b"{}")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> JwksHost:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def jwks_host() -> Iterator[JwksHost]:
    with JwksHost() as host:
        yield host


@asynccontextmanager
async def jwt_server(*, allow_http_loopback_jwks: bool, jwks_uri: str) -> AsyncIterator[Server]:
    """The app as ``ostiary serve`` builds it, plus two ``private_key_jwt`` clients."""
    storage, clock = MemoryStorage(), FrozenClock()
    ctx = await build_context(
        ServerConfig(issuer=ISSUER, resources=(RESOURCE,)),
        storage,
        ServerKeys.from_secret(secrets.token_bytes(32)),
        clock=clock,
        allow_http_loopback_jwks=allow_http_loopback_jwks,
    )
    await add_clients(storage, ctx)
    for client_id, keys in ((JWT_ID, public_jwks(CLIENT_KEY)), (URI_ID, None)):
        await storage.save_client(
            Client(
                client_id,
                str(client_id),
                (),
                token_endpoint_auth_method=AuthMethod.PRIVATE_KEY_JWT,
                grant_types=(GrantType.CLIENT_CREDENTIALS,),
                jwks=keys,
                jwks_uri=None if keys else jwks_uri,
            )
        )
    app = create_app(ctx)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ISSUER
    ) as browser:
        yield Server(ISSUER, RESOURCE, ctx, app, storage, clock, browser)


@pytest.fixture
async def jwt(jwks_host: JwksHost) -> AsyncIterator[Server]:
    async with jwt_server(allow_http_loopback_jwks=True, jwks_uri=jwks_host.url + "/jwks") as s:
        yield s


def assertion(
    server: Server,
    client_id: str = JWT_ID,
    key: ECKey = CLIENT_KEY,
    *,
    alg: str = "ES256",
    **changes: Any,
) -> str:
    now = server.clock.now()
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{ISSUER}/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
        **changes,
    }
    return jose_jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def assertion_form(value: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": value,
        **extra,
    }


async def test_private_key_jwt_client_gets_a_token(jwt: Server) -> None:
    response = await jwt.token(assertion_form(assertion(jwt), scope="prompts:read"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    claims = access_claims(jwt, body["access_token"])
    assert claims["sub"] == JWT_ID and claims["scope"] == "prompts:read"


async def test_client_id_in_the_body_is_accepted_when_it_matches(jwt: Server) -> None:
    ok = await jwt.token(assertion_form(assertion(jwt), client_id=JWT_ID))
    assert ok.status_code == 200, ok.text
    other = await jwt.token(assertion_form(assertion(jwt), client_id=URI_ID))
    assert_error(other, 401, "invalid_client")


async def test_a_replayed_assertion_is_refused(jwt: Server) -> None:
    value = assertion(jwt)
    assert (await jwt.token(assertion_form(value))).status_code == 200
    assert_error(await jwt.token(assertion_form(value)), 401, "invalid_client")


def _hs256(server: Server) -> str:
    key = OctKey.generate_key(256)
    now = server.clock.now()
    claims = {"iss": JWT_ID, "sub": JWT_ID, "aud": f"{ISSUER}/token", "exp": now + 60, "jti": "h"}
    return jose_jwt.encode({"alg": "HS256", "kid": "k1"}, claims, key, algorithms=["HS256"])


def _none(server: Server) -> str:
    good = assertion(server)
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    return f"{header}.{good.split('.')[1]}."


REFUSED: list[Any] = [
    pytest.param(lambda s: assertion(s, aud="https://elsewhere.example.com/token"), id="wrong-aud"),
    pytest.param(lambda s: assertion(s, aud=RESOURCE), id="resource-as-aud"),
    pytest.param(lambda s: assertion(s, exp=s.clock.now() - 1), id="expired"),
    pytest.param(lambda s: assertion(s, exp=s.clock.now() + 3600), id="lifetime-an-hour"),
    pytest.param(lambda s: assertion(s, key=OTHER_KEY), id="wrong-key"),
    pytest.param(lambda s: assertion(s, iss="someone"), id="iss-not-client"),
    pytest.param(lambda s: assertion(s, jti=""), id="no-jti"),
    pytest.param(_none, id="alg-none"),
    pytest.param(_hs256, id="alg-HS256"),
    pytest.param(lambda s: assertion(s)[:-4] + "AAAA", id="bad-signature"),
]


@pytest.mark.parametrize("make", REFUSED)
async def test_bad_assertions_are_invalid_client(jwt: Server, make: Any) -> None:
    response = await jwt.token(assertion_form(make(jwt)))
    assert_error(response, 401, "invalid_client")


async def test_methods_do_not_mix(jwt: Server) -> None:
    # a secret never authenticates a private_key_jwt client ...
    secret = await jwt.token(
        {"grant_type": "client_credentials", "client_id": JWT_ID, "client_secret": "x"}
    )
    assert_error(secret, 401, "invalid_client")
    # ... nor an assertion a secret client (signed by a key it never registered)
    basic_by_jwt = await jwt.token(assertion_form(assertion(jwt, BASIC_ID)))
    assert_error(basic_by_jwt, 401, "invalid_client")
    # ... and an assertion plus a secret is malformed
    both = await jwt.token(
        assertion_form(assertion(jwt)),
        {"Authorization": basic_auth(JWT_ID, "x")},
    )
    assert_error(both, 400, "invalid_request")


async def test_unknown_assertion_type(jwt: Server) -> None:
    form = assertion_form(assertion(jwt))
    form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    assert_error(await jwt.token(form), 401, "invalid_client")


async def test_keys_from_a_loopback_jwks_uri(jwt: Server, jwks_host: JwksHost) -> None:
    first = await jwt.token(assertion_form(assertion(jwt, URI_ID)))
    second = await jwt.token(assertion_form(assertion(jwt, URI_ID)))

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert access_claims(jwt, first.json()["access_token"])["sub"] == URI_ID
    assert jwks_host.hits == 1  # cached


async def test_a_rotated_key_is_fetched_again(jwt: Server, jwks_host: JwksHost) -> None:
    assert (await jwt.token(assertion_form(assertion(jwt, URI_ID)))).status_code == 200
    jwks_host.document = public_jwks(ROTATED_KEY)

    # fetched seconds ago: no refetch yet, so the new key is unknown
    early = await jwt.token(assertion_form(assertion(jwt, URI_ID, ROTATED_KEY)))
    assert_error(early, 401, "invalid_client")
    assert jwks_host.hits == 1
    jwt.clock.advance(REFETCH_INTERVAL)
    late = await jwt.token(assertion_form(assertion(jwt, URI_ID, ROTATED_KEY)))
    assert late.status_code == 200, late.text
    assert jwks_host.hits == 2
    # and the old key is gone
    old = await jwt.token(assertion_form(assertion(jwt, URI_ID)))
    assert_error(old, 401, "invalid_client")


async def test_the_cache_expires(jwt: Server, jwks_host: JwksHost) -> None:
    assert (await jwt.token(assertion_form(assertion(jwt, URI_ID)))).status_code == 200
    jwt.clock.advance(CACHE_TTL)
    assert (await jwt.token(assertion_form(assertion(jwt, URI_ID)))).status_code == 200
    assert jwks_host.hits == 2


@pytest.mark.parametrize("path", ["/redirect", "/huge", "/not-json", "/missing"])
async def test_unusable_jwks_uri(jwks_host: JwksHost, path: str) -> None:
    async with jwt_server(allow_http_loopback_jwks=True, jwks_uri=jwks_host.url + path) as s:
        response = await s.token(assertion_form(assertion(s, URI_ID)))
        assert_error(response, 401, "invalid_client")
        assert response.json()["error_description"] == "the client's jwks_uri could not be used"
        # failures are not cached: the next request asks again
        await s.token(assertion_form(assertion(s, URI_ID)))
    assert jwks_host.hits == 2


async def test_http_loopback_jwks_uri_is_refused_by_default(jwks_host: JwksHost) -> None:
    async with jwt_server(allow_http_loopback_jwks=False, jwks_uri=jwks_host.url + "/jwks") as s:
        response = await s.token(assertion_form(assertion(s, URI_ID)))
        assert_error(response, 401, "invalid_client")
    assert jwks_host.hits == 0  # never fetched


async def test_revocation_accepts_private_key_jwt(jwt: Server) -> None:
    token = (await jwt.token(assertion_form(assertion(jwt)))).json()["access_token"]
    gid = access_claims(jwt, token)["gid"]

    response = await jwt.browser.post(
        "/revoke",
        data={
            "token": token,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion(jwt),
        },
    )

    assert response.status_code == 200, response.text
    grant = await jwt.storage.get_grant(gid)
    assert grant is not None and grant.revoked_at is not None


async def test_introspection_of_a_client_credentials_token(jwt: Server) -> None:
    """A private_key_jwt client introspects its own token: active, sub = client; then
    revoked, inactive."""
    token = (await jwt.token(assertion_form(assertion(jwt)))).json()["access_token"]

    def form() -> dict[str, str]:
        return {
            "token": token,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion(jwt),
        }

    active = await jwt.browser.post("/introspect", data=form())
    assert active.status_code == 200, active.text
    body = active.json()
    assert body["active"] is True
    assert body["sub"] == JWT_ID and body["client_id"] == JWT_ID

    assert (await jwt.browser.post("/revoke", data=form())).status_code == 200
    inactive = await jwt.browser.post("/introspect", data=form())
    assert inactive.json() == {"active": False}
