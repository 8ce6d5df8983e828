"""The client credentials grant over HTTP, with a secret and with ``private_key_jwt``."""

from __future__ import annotations

from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from ostiary.core.models import AuthMethod, Client, ClientId, GrantType

from ..helpers import BASIC_ID, BASIC_SECRET, ISSUER, RESOURCE, Server, basic_auth

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
    claims: dict[str, Any] = jwt.decode(token, keys, algorithms=["ES256"]).claims
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
