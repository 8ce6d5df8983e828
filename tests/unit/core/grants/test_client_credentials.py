"""The client credentials grant (OAuth 2.1 §4.2): every refusal with its exact error code.

* ``unauthorized_client``: a public client, or a client not registered for the grant.
* ``invalid_client``: unknown client, no or wrong secret, a removed client still in the token
  endpoint's cache (this grant reads the store), a secret for a ``private_key_jwt`` client.
* ``invalid_scope`` / ``invalid_target`` / ``invalid_request``: as at ``/authorize``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.client_cache import ClientCache
from ostiary.core.endpoints.token import token_endpoint
from ostiary.core.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    UnauthorizedClient,
)
from ostiary.core.grants.client_credentials import is_client_grant
from ostiary.core.models import AuthMethod, Client, ClientId, GrantId, GrantType

from ...support import (
    ALL_SCOPES,
    CONFIDENTIAL_ID,
    CONFIDENTIAL_SECRET,
    OTHER_RESOURCE,
    PUBLIC_ID,
    RESOURCE,
    USER_ID,
    Harness,
    decode_access_token,
    register_confidential_client,
)

SERVICE_ID = ClientId("service")
SERVICE_SECRET = "service-secret-abcdefghijklmnopqrstuvwxyz012345"
PUBLIC_CC_ID = ClientId("public-cc")
NARROW_ID = ClientId("narrow-service")
NARROW_SECRET = "narrow-secret-abcdefghijklmnopqrstuvwxyz0123456"
JWT_ID = ClientId("jwt-service")
CC = (GrantType.CLIENT_CREDENTIALS,)

Params = dict[str, list[str]]


def basic(client_id: str = SERVICE_ID, secret: str = SERVICE_SECRET) -> ClientCredentials:
    return ClientCredentials(basic=(client_id, secret))


def cc(**extra: list[str]) -> Params:
    return {"grant_type": ["client_credentials"], **extra}


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    service = Client(
        SERVICE_ID,
        "Service",
        (),
        token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
        grant_types=(GrantType.CLIENT_CREDENTIALS, GrantType.REFRESH_TOKEN),
        secret_hash=h.hasher.hash(SERVICE_SECRET),
    )
    narrow = Client(
        NARROW_ID,
        "Narrow",
        (),
        token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_POST,
        grant_types=CC,
        scope=frozenset({"tools:read", "prompts:read"}),
        secret_hash=h.hasher.hash(NARROW_SECRET),
    )
    public = Client(PUBLIC_CC_ID, "Public", ("https://p.example.com/cb",), grant_types=CC)
    jwt_client = Client(
        JWT_ID,
        "JWT",
        (),
        token_endpoint_auth_method=AuthMethod.PRIVATE_KEY_JWT,
        grant_types=CC,
        jwks={"keys": []},
        secret_hash=h.hasher.hash(SERVICE_SECRET),  # must never let a secret in
    )
    for client in (service, narrow, public, jwt_client):
        await h.storage.save_client(client)
    await register_confidential_client(h.storage, h.hasher)  # code + refresh only


REFUSALS = [
    pytest.param(
        cc(), ClientCredentials(client_id=PUBLIC_CC_ID), UnauthorizedClient, id="public-client"
    ),
    pytest.param(
        cc(),
        basic(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET),
        UnauthorizedClient,
        id="grant-not-registered",
    ),
    pytest.param(cc(), basic("nobody", SERVICE_SECRET), InvalidClient, id="unknown-client"),
    pytest.param(cc(), basic(secret="wrong"), InvalidClient, id="wrong-secret"),
    pytest.param(cc(), ClientCredentials(client_id=SERVICE_ID), InvalidClient, id="no-secret"),
    pytest.param(cc(), ClientCredentials(), InvalidClient, id="no-client-at-all"),
    pytest.param(
        cc(),
        ClientCredentials(client_id=SERVICE_ID, client_secret=SERVICE_SECRET),
        InvalidClient,
        id="post-for-basic-client",
    ),
    pytest.param(
        cc(), basic(JWT_ID, SERVICE_SECRET), InvalidClient, id="secret-for-private-key-jwt"
    ),
    pytest.param(
        cc(),
        ClientCredentials(client_id=JWT_ID, client_secret=SERVICE_SECRET),
        InvalidClient,
        id="post-secret-for-private-key-jwt",
    ),
    pytest.param(
        cc(), ClientCredentials(client_id=PUBLIC_ID), InvalidClient, id="unregistered-public"
    ),
    pytest.param(
        cc(scope=["resources:write"]),
        ClientCredentials(client_id=NARROW_ID, client_secret=NARROW_SECRET),
        InvalidScope,
        id="scope-beyond-client",
    ),
    pytest.param(cc(scope=["admin"]), basic(), InvalidScope, id="unknown-scope"),
    pytest.param(cc(scope=["tools:read  x"]), basic(), InvalidScope, id="malformed-scope"),
    pytest.param(cc(scope=["tools:read", "x"]), basic(), InvalidRequest, id="repeated-scope"),
    pytest.param(
        cc(resource=["https://elsewhere.example.com/mcp"]),
        basic(),
        InvalidTarget,
        id="unknown-resource",
    ),
    pytest.param(cc(resource=[RESOURCE + "#x"]), basic(), InvalidTarget, id="resource-fragment"),
    pytest.param(cc(resource=["mcp"]), basic(), InvalidTarget, id="relative-resource"),
    pytest.param(
        cc(resource=[RESOURCE, OTHER_RESOURCE]), basic(), InvalidTarget, id="two-resources"
    ),
    pytest.param(
        cc(grant_type=["client_credentials", "client_credentials"]),
        basic(),
        InvalidRequest,
        id="repeated-grant-type",
    ),
]


@pytest.mark.parametrize(("params", "credentials", "expected"), REFUSALS)
async def test_refusals(
    h: Harness, params: Params, credentials: ClientCredentials, expected: type[OAuthError]
) -> None:
    with pytest.raises(OAuthError) as caught:
        await token_endpoint(params, credentials, h.deps)
    assert type(caught.value) is expected
    assert caught.value.error == expected.error
    assert h.storage.grants == {}  # a refusal leaves no grant behind


async def test_issues_an_access_token_for_the_client_itself(h: Harness) -> None:
    response = await token_endpoint(cc(), basic(), h.deps)

    # No refresh token, although the client is registered for the refresh grant too.
    assert response.refresh_token is None
    assert "refresh_token" not in response.to_json()
    assert response.expires_in == h.deps.config.access_token_ttl
    assert set(response.scope.split()) == ALL_SCOPES
    claims = decode_access_token(h, response.access_token).claims
    assert claims["sub"] == SERVICE_ID
    assert claims["client_id"] == SERVICE_ID
    assert claims["aud"] == RESOURCE
    assert claims["iss"] == h.deps.config.issuer
    assert claims["exp"] - claims["iat"] == h.deps.config.access_token_ttl
    grant = h.storage.grants[GrantId(claims["gid"])]
    assert str(grant.user_id) == SERVICE_ID and grant.client_id == SERVICE_ID
    assert grant.scopes == ALL_SCOPES and grant.resource == RESOURCE
    assert grant.created_at == h.clock.now() and grant.revoked_at is None
    assert is_client_grant(grant)


async def test_each_issuance_has_its_own_grant(h: Harness) -> None:
    first = await token_endpoint(cc(), basic(), h.deps)
    second = await token_endpoint(cc(), basic(), h.deps)

    gids = {decode_access_token(h, r.access_token).claims["gid"] for r in (first, second)}
    assert len(gids) == 2 and set(h.storage.grants) == gids


async def test_scope_and_resource_narrow(h: Harness) -> None:
    credentials = ClientCredentials(client_id=NARROW_ID, client_secret=NARROW_SECRET)
    default = await token_endpoint(cc(), credentials, h.deps)
    narrowed = await token_endpoint(
        cc(scope=["prompts:read"], resource=[OTHER_RESOURCE + "/"]), credentials, h.deps
    )

    assert default.scope == "tools:read prompts:read"  # the client's allowed scopes
    assert narrowed.scope == "prompts:read"
    claims = decode_access_token(h, narrowed.access_token).claims
    assert claims["aud"] == OTHER_RESOURCE and claims["scope"] == "prompts:read"


async def test_a_user_grant_is_not_a_client_grant(h: Harness) -> None:
    response = await token_endpoint(cc(), basic(), h.deps)
    grant = h.storage.grants[GrantId(decode_access_token(h, response.access_token).claims["gid"])]

    assert not is_client_grant(replace(grant, user_id=USER_ID))


async def test_reads_the_store_not_the_client_cache(h: Harness) -> None:
    """A removed or re-keyed client is refused at once, whatever the cache still holds."""
    cache = ClientCache(h.storage, h.clock, ttl=3600)
    deps = replace(h.deps, token_clients=cache)
    assert await cache.get_client(SERVICE_ID) is not None  # cached for an hour

    old = h.storage.clients[SERVICE_ID]
    h.storage.clients[SERVICE_ID] = replace(old, secret_hash=h.hasher.hash("rotated"))
    with pytest.raises(InvalidClient):
        await token_endpoint(cc(), basic(), deps)
    assert await token_endpoint(cc(), basic(secret="rotated"), deps)

    assert await h.storage.delete_client(SERVICE_ID, h.clock.now())
    assert await cache.get_client(SERVICE_ID) is not None  # the cache has not noticed
    with pytest.raises(InvalidClient):
        await token_endpoint(cc(), basic(secret="rotated"), deps)


async def test_removing_the_client_revokes_its_grants(h: Harness) -> None:
    response = await token_endpoint(cc(), basic(), h.deps)
    gid = GrantId(decode_access_token(h, response.access_token).claims["gid"])

    await h.storage.delete_client(SERVICE_ID, h.clock.now())

    grant = await h.storage.get_grant(gid)
    assert grant is None or grant.revoked_at is not None
