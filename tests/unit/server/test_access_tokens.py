"""``KeyRingTokenReader``: our JWTs read back with every published key, strictly at ``exp``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from joserfc import jwt
from tests.unit.support import ENCRYPTION_KEY, ISSUER, OTHER_RESOURCE, RESOURCE

from ostiary.core.clock import FrozenClock
from ostiary.core.config import ServerConfig
from ostiary.core.models import SigningKey
from ostiary.crypto.jwt import JwtSigner
from ostiary.crypto.keys import LoadedKey, generate_signing_key, jwks_document, load_signing_key
from ostiary.server.access_tokens import KeyRingTokenReader


@dataclass
class Published:
    jwks: dict[str, Any]


@pytest.fixture(scope="module")
def newer_record() -> SigningKey:
    return generate_signing_key(ENCRYPTION_KEY, now=1_650_000_000)


def claims(clock: FrozenClock, **changes: Any) -> dict[str, Any]:
    now = clock.now()
    base = {"iss": ISSUER, "aud": RESOURCE, "sub": "u", "client_id": "c", "gid": "g"}
    return {**base, "iat": now, "exp": now + 60, "jti": "j", **changes}


def reader_for(
    records: list[SigningKey], config: ServerConfig, clock: FrozenClock
) -> tuple[KeyRingTokenReader, Published]:
    published = Published(jwks_document(records))
    return KeyRingTokenReader(published, config, clock), published


def test_a_token_we_signed_reads_back_as_its_claims(
    signing_record: SigningKey, signing_key: LoadedKey, config: ServerConfig, clock: FrozenClock
) -> None:
    reader, _ = reader_for([signing_record], config, clock)
    token = JwtSigner(signing_key).sign(claims(clock))

    assert reader.read(token) == claims(clock)


def test_a_retired_but_published_key_still_verifies(
    signing_record: SigningKey,
    signing_key: LoadedKey,
    newer_record: SigningKey,
    config: ServerConfig,
    clock: FrozenClock,
) -> None:
    reader, _ = reader_for([signing_record, newer_record], config, clock)
    older = JwtSigner(signing_key).sign(claims(clock))
    newer = JwtSigner(load_signing_key(newer_record, ENCRYPTION_KEY)).sign(claims(clock))

    assert reader.read(older) is not None
    assert reader.read(newer) is not None


def test_every_configured_resource_is_an_accepted_audience(
    signing_record: SigningKey, signing_key: LoadedKey, config: ServerConfig, clock: FrozenClock
) -> None:
    reader, _ = reader_for([signing_record], config, clock)
    signer = JwtSigner(signing_key)

    assert reader.read(signer.sign(claims(clock, aud=OTHER_RESOURCE))) is not None
    assert reader.read(signer.sign(claims(clock, aud="https://x.example/mcp"))) is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"iss": "https://as.example.com/"}, id="issuer-not-byte-identical"),
        pytest.param({"exp": 1_700_000_000}, id="exp-now"),
        pytest.param({"exp": 1_699_999_999}, id="expired"),
        pytest.param({"exp": "soon"}, id="exp-not-a-number"),
        pytest.param({"nbf": 1_700_000_100}, id="not-yet-valid"),
    ],
)
def test_claims_that_make_a_token_unreadable(
    signing_record: SigningKey,
    signing_key: LoadedKey,
    config: ServerConfig,
    clock: FrozenClock,
    change: dict[str, Any],
) -> None:
    reader, _ = reader_for([signing_record], config, clock)

    assert reader.read(JwtSigner(signing_key).sign(claims(clock, **change))) is None


def test_a_jwt_that_is_not_an_access_token_is_unreadable(
    signing_record: SigningKey, signing_key: LoadedKey, config: ServerConfig, clock: FrozenClock
) -> None:
    reader, _ = reader_for([signing_record], config, clock)
    header = {"alg": "ES256", "typ": "JWT", "kid": signing_key.kid}
    token = jwt.encode(header, claims(clock), signing_key.key, algorithms=["ES256"])

    assert reader.read(token) is None
    assert reader.read("not-a-jwt") is None


def test_the_key_set_is_cached_until_the_published_keys_change(
    signing_record: SigningKey,
    signing_key: LoadedKey,
    newer_record: SigningKey,
    config: ServerConfig,
    clock: FrozenClock,
) -> None:
    reader, published = reader_for([signing_record], config, clock)
    token = JwtSigner(signing_key).sign(claims(clock))
    first = reader.key_set()
    assert reader.key_set() is first

    published.jwks = jwks_document([newer_record])  # the old key is no longer published
    assert reader.key_set() is not first
    assert reader.read(token) is None

    published.jwks["keys"].append(dict(signing_record.public_jwk))  # changed in place
    assert reader.read(token) is not None


def test_nothing_reads_while_no_key_is_published(
    signing_record: SigningKey, signing_key: LoadedKey, config: ServerConfig, clock: FrozenClock
) -> None:
    reader, published = reader_for([], config, clock)
    token = JwtSigner(signing_key).sign(claims(clock))

    assert reader.key_set() is None
    assert reader.read(token) is None

    published.jwks = jwks_document([signing_record])
    assert reader.read(token) is not None
