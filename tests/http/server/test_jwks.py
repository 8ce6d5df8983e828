"""The JWKS document, and access tokens that verify against nothing but it."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from ostiary.crypto.jwt import JwtVerificationError, verify_access_token
from ostiary.server.keyring import rotate_signing_key

from ..helpers import ISSUER, PUBLIC_ID, RESOURCE, USER_ID, Server, running


async def fetch_jwks(server: Server) -> dict[str, Any]:
    response = await server.browser.get(f"{server.base}/jwks")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


async def test_jwks_publishes_one_public_es256_key(server: Server) -> None:
    jwks = await fetch_jwks(server)

    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ES256"
    assert key["use"] == "sig"
    assert isinstance(key["kid"], str)
    assert len(key["kid"]) >= 8
    assert {"x", "y"} <= key.keys()
    assert "d" not in key  # never the private part


async def test_issued_access_token_verifies_against_the_published_jwks(
    any_server: Server,
) -> None:
    server = any_server
    jwks = await fetch_jwks(server)
    body = await server.tokens(["tools:read"])

    token = body["access_token"]
    header = jws.extract_compact(token.encode()).headers()
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": jwks["keys"][0]["kid"]}
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    claims = verify_access_token(
        token, keys, issuer=server.issuer, audience=server.resource, now=server.clock.now()
    )
    assert claims["iss"] == server.issuer
    assert claims["aud"] == server.resource
    assert claims["sub"] == USER_ID
    assert claims["client_id"] == PUBLIC_ID
    assert claims["scope"] == "tools:read"
    assert claims["exp"] == server.clock.now() + 3600
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"


async def test_access_token_fails_for_another_audience_or_issuer(server: Server) -> None:
    keys = KeySet.import_key_set(await fetch_jwks(server))  # type: ignore[arg-type]
    token = (await server.tokens())["access_token"]
    now = server.clock.now()

    with pytest.raises(JwtVerificationError, match="audience"):
        verify_access_token(
            token, keys, issuer=server.issuer, audience="https://other.example/mcp", now=now
        )
    with pytest.raises(JwtVerificationError, match="issuer"):
        verify_access_token(
            token, keys, issuer="https://evil.example", audience=server.resource, now=now
        )
    with pytest.raises(JwtVerificationError, match="expired"):
        verify_access_token(
            token, keys, issuer=server.issuer, audience=server.resource, now=now + 3600 + 31
        )


async def test_a_token_from_another_server_does_not_verify(server: Server) -> None:
    """Each server has its own key: the JWKS of one rejects the other's tokens."""
    async with running(ISSUER, RESOURCE) as other:
        foreign = (await other.tokens())["access_token"]
    keys = KeySet.import_key_set(await fetch_jwks(server))  # type: ignore[arg-type]

    with pytest.raises(JwtVerificationError):
        verify_access_token(foreign, keys, issuer=ISSUER, audience=RESOURCE, now=server.clock.now())


@pytest.mark.parametrize("alg", ["RS256", "Ed25519"])
async def test_after_a_rotation_the_jwks_serves_both_keys_and_both_tokens_verify(
    server: Server, alg: str
) -> None:
    old_token = (await server.tokens())["access_token"]
    old_kid = server.ctx.keyring.kid
    new, retired = await rotate_signing_key(
        server.storage, server.ctx.keys.key_encryption, server.clock.now(), alg
    )
    assert retired == [old_kid]
    await server.ctx.keyring.load()  # what the lifespan's reload task does

    jwks = await fetch_jwks(server)
    assert {k["kid"]: k["alg"] for k in jwks["keys"]} == {old_kid: "ES256", new.kid: alg}
    new_token = (await server.tokens())["access_token"]
    header = jws.extract_compact(new_token.encode()).headers()
    assert (header["alg"], header["kid"]) == (alg, new.kid)
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    for token in (old_token, new_token):
        claims = verify_access_token(
            token, keys, issuer=server.issuer, audience=server.resource, now=server.clock.now()
        )
        assert claims["sub"] == USER_ID
