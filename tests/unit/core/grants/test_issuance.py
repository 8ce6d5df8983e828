"""Access tokens are RFC 9068 JWTs, audience-bound to one resource (RFC 8707)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ostiary.core.grants.issuance import issue_tokens, sign_access_token
from ostiary.core.models import GrantId, GrantType
from ostiary.crypto.jwt import verify_access_token

from ...support import (
    ISSUER,
    OTHER_RESOURCE,
    PUBLIC_ID,
    RESOURCE,
    USER_ID,
    Harness,
    add_user,
    decode_access_token,
    refresh,
    register_public_client,
    token_pair,
)


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    await register_public_client(h.storage)
    await add_user(h.storage)


@pytest.mark.parametrize(
    ("authorize", "audience", "scope"),
    [
        pytest.param(
            {},
            RESOURCE,
            "tools:read tools:execute resources:read resources:write prompts:read",
            id="defaults",
        ),
        pytest.param(
            {"resource": [OTHER_RESOURCE], "scope": ["prompts:read tools:read"]},
            OTHER_RESOURCE,
            "tools:read prompts:read",
            id="other-resource-and-scopes",
        ),
    ],
)
async def test_access_token_header_and_claims(
    h: Harness, authorize: dict[str, list[str]], audience: str, scope: str
) -> None:
    h.clock.advance(12345)
    response = await token_pair(h, **authorize)
    token = decode_access_token(h, response.access_token)
    assert token.header == {"typ": "at+jwt", "alg": "ES256", "kid": h.signing_key.kid}
    claims = token.claims
    (grant_id,) = h.storage.grants
    assert claims == {
        "iss": ISSUER,
        "sub": USER_ID,
        "aud": audience,
        "client_id": PUBLIC_ID,
        "scope": scope,
        "iat": h.clock.now(),
        "exp": h.clock.now() + h.deps.config.access_token_ttl,
        "jti": claims["jti"],
        "gid": grant_id,
    }
    assert claims["exp"] - claims["iat"] == response.expires_in == 3600
    assert isinstance(claims["jti"], str)
    assert claims["jti"]
    verified = verify_access_token(
        response.access_token,
        h.public_keys,
        issuer=ISSUER,
        audience=audience,
        now=h.clock.now(),
    )
    assert verified == claims


async def test_jti_is_unique_across_tokens(h: Harness) -> None:
    tokens = []
    pair = await token_pair(h)
    tokens.append(pair.access_token)
    tokens.append((await token_pair(h)).access_token)
    assert pair.refresh_token is not None
    refreshed = await refresh(h, pair.refresh_token)
    tokens.append(refreshed.access_token)
    jtis = [decode_access_token(h, t).claims["jti"] for t in tokens]
    assert len(set(jtis)) == len(jtis) == 3


async def test_refreshed_token_has_fresh_iat_and_exp(h: Harness) -> None:
    pair = await token_pair(h)
    assert pair.refresh_token is not None
    h.clock.advance(600)
    refreshed = await refresh(h, pair.refresh_token)
    claims = decode_access_token(h, refreshed.access_token).claims
    assert claims["iat"] == h.clock.now()
    assert claims["exp"] == h.clock.now() + 3600


async def test_issue_tokens_narrows_only_the_access_token(h: Harness) -> None:
    client = h.storage.clients[PUBLIC_ID]
    granted = frozenset({"tools:read", "tools:execute"})
    issued = issue_tokens(
        client,
        user_id=USER_ID,
        grant_id=GrantId("g"),
        granted=granted,
        resource=RESOURCE,
        deps=h.deps,
        access_scopes=frozenset({"tools:execute"}),
    )
    assert issued.response.scope == "tools:execute"
    assert issued.refresh_record is not None
    assert issued.refresh_record.scopes == granted
    assert issued.refresh_record.token_hash == h.hasher.hash(issued.response.refresh_token or "")


async def test_issue_tokens_without_refresh_grant(h: Harness) -> None:
    client = replace(h.storage.clients[PUBLIC_ID], grant_types=(GrantType.AUTHORIZATION_CODE,))
    issued = issue_tokens(
        client,
        user_id=USER_ID,
        grant_id=GrantId("g"),
        granted=frozenset({"tools:read"}),
        resource=RESOURCE,
        deps=h.deps,
    )
    assert issued.refresh_record is None
    assert issued.response.refresh_token is None


class RecordingSigner:
    def __init__(self) -> None:
        self.claims: list[dict[str, Any]] = []

    def sign(self, claims: dict[str, Any]) -> str:
        self.claims.append(claims)
        return "signed"


async def test_sign_access_token_hands_rfc9068_claims_to_the_signer(h: Harness) -> None:
    signer = RecordingSigner()
    deps = replace(h.deps, signer=signer)
    token = sign_access_token(
        h.storage.clients[PUBLIC_ID],
        user_id=USER_ID,
        grant_id=GrantId("grant-7"),
        scopes=frozenset({"prompts:read", "tools:read"}),
        resource=OTHER_RESOURCE,
        deps=deps,
    )
    assert token == "signed"
    (claims,) = signer.claims
    assert claims["aud"] == OTHER_RESOURCE
    assert claims["scope"] == "tools:read prompts:read"
    assert claims["gid"] == "grant-7"
    assert claims["exp"] == claims["iat"] + h.deps.config.access_token_ttl
    assert set(claims) == {"iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti", "gid"}
