"""The introspection endpoint (RFC 7662): who may ask, and what an active token looks like.

Only an authenticated confidential client may introspect; anyone else gets ``invalid_client``.
Every token that is not active, for whatever reason, is described as exactly
``{"active": false}`` (§2.2), so the answer never says why.
"""

from __future__ import annotations

from typing import Any

import pytest

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.endpoints.introspect import introspection_endpoint
from ostiary.core.errors import InvalidClient, InvalidRequest, OAuthError, UnsupportedTokenType
from ostiary.core.models import AuthMethod
from ostiary.crypto.jwt import JwtSigner
from ostiary.crypto.keys import generate_signing_key, load_signing_key

from ...support import (
    CONFIDENTIAL_ID,
    ENCRYPTION_KEY,
    ISSUER,
    PUBLIC_ID,
    RESOURCE,
    USER_ID,
    Harness,
    add_user,
    decode_access_token,
    public_credentials,
    refresh,
    register_confidential_client,
    register_public_client,
)
from .presented_support import (
    OTHER_ID,
    confidential_credentials,
    grant_of,
    public_pair,
    reading,
    refresh_of,
)

Params = dict[str, list[str]]
INACTIVE = {"active": False}
POST_ID = "post-resource-server"
POST_SECRET = "post-secret-abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
async def r(h: Harness) -> Harness:
    await register_public_client(h.storage)
    await register_public_client(h.storage, OTHER_ID)
    await register_confidential_client(h.storage, h.hasher)
    await register_confidential_client(
        h.storage, h.hasher, POST_ID, POST_SECRET, method=AuthMethod.CLIENT_SECRET_POST
    )
    await add_user(h.storage)
    return reading(h)


async def introspect(
    h: Harness,
    token: str,
    hint: str | None = None,
    credentials: ClientCredentials | None = None,
) -> dict[str, Any]:
    params: Params = {"token": [token]}
    if hint is not None:
        params["token_type_hint"] = [hint]
    return await introspection_endpoint(params, credentials or confidential_credentials(), h.deps)


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
async def test_an_active_access_token(r: Harness, hint: str | None) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    claims = decode_access_token(r, pair.access_token).claims
    now = r.clock.now()

    assert await introspect(r, pair.access_token, hint) == {
        "active": True,
        "scope": pair.scope,
        "client_id": PUBLIC_ID,
        "sub": USER_ID,
        "aud": RESOURCE,
        "iss": ISSUER,
        "exp": now + r.deps.config.access_token_ttl,
        "iat": now,
        "jti": claims["jti"],
        "token_type": "Bearer",
    }


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
async def test_an_active_refresh_token(r: Harness, hint: str | None) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    now = r.clock.now()
    r.clock.advance(5)

    assert await introspect(r, refresh_of(pair), hint) == {
        "active": True,
        "scope": pair.scope,
        "client_id": PUBLIC_ID,
        "sub": USER_ID,
        "aud": RESOURCE,
        "iss": ISSUER,
        "exp": now + r.deps.config.refresh_token_ttl,
        "iat": now,
        "token_type": "refresh_token",
    }


async def test_a_client_secret_post_client_may_introspect(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    credentials = ClientCredentials(client_id=POST_ID, client_secret=POST_SECRET)

    body = await introspect(r, pair.access_token, credentials=credentials)

    assert body["active"] is True


async def test_revoking_the_grant_makes_both_tokens_inactive(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)

    await r.storage.revoke_grant(grant_of(r, pair), r.clock.now())

    assert await introspect(r, pair.access_token) == INACTIVE
    assert await introspect(r, refresh_of(pair)) == INACTIVE


async def test_an_access_token_is_inactive_from_its_exp(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    r.clock.advance(r.deps.config.access_token_ttl - 1)
    assert (await introspect(r, pair.access_token))["active"] is True

    r.clock.advance(1)

    assert await introspect(r, pair.access_token) == INACTIVE


async def test_a_refresh_token_is_inactive_from_its_expiry(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    r.clock.advance(r.deps.config.refresh_token_ttl)

    assert await introspect(r, refresh_of(pair)) == INACTIVE


async def test_a_rotated_refresh_token_is_inactive_and_its_successor_active(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    successor = await refresh(r, refresh_of(pair))

    assert await introspect(r, refresh_of(pair)) == INACTIVE
    assert (await introspect(r, refresh_of(successor)))["active"] is True
    assert (await introspect(r, pair.access_token))["active"] is True  # same live grant


def foreign_signer() -> JwtSigner:
    return JwtSigner(load_signing_key(generate_signing_key(ENCRYPTION_KEY, 0), ENCRYPTION_KEY))


@pytest.mark.parametrize(
    ("change", "signed_by_us"),
    [
        pytest.param({}, False, id="signed-by-an-unpublished-key"),
        pytest.param({"iss": "https://evil.example.com"}, True, id="another-issuer"),
        pytest.param({"aud": "https://elsewhere.example.com/mcp"}, True, id="foreign-audience"),
        pytest.param({"gid": "no-such-grant"}, True, id="unknown-grant"),
        pytest.param({"gid": None}, True, id="no-grant-id"),
        pytest.param({"client_id": None}, True, id="no-client-id"),
        pytest.param({"client_id": OTHER_ID}, True, id="grant-of-another-client"),
    ],
)
async def test_tokens_we_did_not_issue_as_such_are_inactive(
    r: Harness, change: dict[str, Any], signed_by_us: bool
) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    claims = {**decode_access_token(r, pair.access_token).claims, **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    signer = JwtSigner(r.signing_key) if signed_by_us else foreign_signer()

    assert await introspect(r, signer.sign(claims)) == INACTIVE


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 4096])
async def test_unknown_tokens_are_inactive(r: Harness, token: str) -> None:
    assert await introspect(r, token) == INACTIVE


async def test_a_jwt_is_inactive_without_an_access_token_reader(h: Harness) -> None:
    await register_public_client(h.storage)
    await register_confidential_client(h.storage, h.hasher)
    pair = await public_pair(h, PUBLIC_ID)

    assert await introspect(h, pair.access_token) == INACTIVE
    assert (await introspect(h, refresh_of(pair)))["active"] is True


@pytest.mark.parametrize(
    ("params", "credentials", "expected"),
    [
        pytest.param({"token": ["t"]}, public_credentials(), InvalidClient, id="public-client"),
        pytest.param({"token": ["t"]}, ClientCredentials(), InvalidClient, id="no-client"),
        pytest.param(
            {"token": ["t"]}, public_credentials("nobody"), InvalidClient, id="unknown-client"
        ),
        pytest.param(
            {"token": ["t"]},
            ClientCredentials(client_id=CONFIDENTIAL_ID),
            InvalidClient,
            id="confidential-client-without-secret",
        ),
        pytest.param(
            {"token": ["t"]},
            confidential_credentials("wrong-secret"),
            InvalidClient,
            id="wrong-secret",
        ),
        pytest.param(
            {"token": ["t"]},
            ClientCredentials(client_id=CONFIDENTIAL_ID, client_secret="s"),
            InvalidClient,
            id="wrong-method",
        ),
        pytest.param(
            {"token": ["t"], "token_type_hint": ["id_token"]},
            confidential_credentials(),
            UnsupportedTokenType,
            id="unknown-hint",
        ),
        pytest.param({}, confidential_credentials(), InvalidRequest, id="missing-token"),
        pytest.param(
            {"token": ["a", "b"]}, confidential_credentials(), InvalidRequest, id="repeated-token"
        ),
    ],
)
async def test_refusals(
    r: Harness, params: Params, credentials: ClientCredentials, expected: type[OAuthError]
) -> None:
    with pytest.raises(expected) as caught:
        await introspection_endpoint(params, credentials, r.deps)
    assert type(caught.value) is expected


async def test_a_public_client_learns_nothing_even_about_its_own_token(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    with pytest.raises(InvalidClient):
        await introspect(r, pair.access_token, credentials=public_credentials())
