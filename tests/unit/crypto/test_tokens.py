"""Opaque token generation and the keyed hash stores keep instead of secrets."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from ostiary.crypto.tokens import TokenHasher, new_token

KEY = bytes(range(32))


def test_new_token_is_urlsafe_with_256_bits() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_new_token_size_is_configurable() -> None:
    assert len(new_token(64)) == 86


def test_hash_is_hmac_sha256_hex() -> None:
    expected = hmac.new(KEY, b"value", hashlib.sha256).hexdigest()
    assert TokenHasher(KEY).hash("value") == expected
    assert len(expected) == 64


def test_hash_is_deterministic() -> None:
    assert TokenHasher(KEY).hash("v") == TokenHasher(KEY).hash("v")


@pytest.mark.parametrize(
    ("key_a", "value_a", "key_b", "value_b"),
    [
        pytest.param(KEY, "v", bytes(32), "v", id="different-key"),
        pytest.param(KEY, "v", KEY, "w", id="different-value"),
        pytest.param(KEY, "v", KEY + b"x", "v", id="longer-key"),
    ],
)
def test_hash_differs(key_a: bytes, value_a: str, key_b: bytes, value_b: str) -> None:
    assert TokenHasher(key_a).hash(value_a) != TokenHasher(key_b).hash(value_b)


def test_hash_is_keyed_not_plain_sha256() -> None:
    assert TokenHasher(KEY).hash("v") != hashlib.sha256(b"v").hexdigest()


@pytest.mark.parametrize(
    "key",
    [pytest.param(b"", id="empty"), pytest.param(bytes(31), id="31-bytes")],
)
def test_short_key_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenHasher(key)
