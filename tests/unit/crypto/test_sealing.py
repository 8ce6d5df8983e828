"""AES-256-GCM sealing and the refresh-successor sealer."""

from __future__ import annotations

import pytest

from ostiary.crypto.sealing import SealError, TokenSealer, derive_key, seal, unseal

KEY = bytes(range(32))


def test_derive_key_is_per_purpose_and_deterministic() -> None:
    a = derive_key(b"secret", "purpose a")
    assert len(a) == 32
    assert a == derive_key(b"secret", "purpose a")
    assert a != derive_key(b"secret", "purpose b")
    assert a != derive_key(b"other", "purpose a")


def test_round_trip_with_and_without_context() -> None:
    assert unseal(KEY, seal(KEY, b"plaintext")) == b"plaintext"
    assert unseal(KEY, seal(KEY, b"plaintext", b"ctx"), b"ctx") == b"plaintext"
    assert unseal(KEY, seal(KEY, b"")) == b""


def test_sealing_is_randomised_and_hides_the_plaintext() -> None:
    a, b = seal(KEY, b"plaintext"), seal(KEY, b"plaintext")
    assert a != b
    assert b"plaintext" not in a
    assert len(a) == 12 + len(b"plaintext") + 16


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


SEALED = seal(KEY, b"plaintext", b"ctx")


@pytest.mark.parametrize(
    ("key", "sealed", "context"),
    [
        pytest.param(bytes(32), SEALED, b"ctx", id="wrong-key"),
        pytest.param(KEY, SEALED, b"other", id="wrong-context"),
        pytest.param(KEY, SEALED, b"", id="missing-context"),
        pytest.param(KEY, flip(SEALED, 0), b"ctx", id="tampered-nonce"),
        pytest.param(KEY, flip(SEALED, 14), b"ctx", id="tampered-ciphertext"),
        pytest.param(KEY, flip(SEALED, len(SEALED) - 1), b"ctx", id="tampered-tag"),
        pytest.param(KEY, SEALED[:-1], b"ctx", id="truncated"),
        pytest.param(KEY, SEALED + b"\x00", b"ctx", id="extended"),
        pytest.param(KEY, b"", b"ctx", id="empty"),
        pytest.param(KEY, SEALED[:5], b"ctx", id="shorter-than-nonce"),
    ],
)
def test_unseal_refuses(key: bytes, sealed: bytes, context: bytes) -> None:
    with pytest.raises(SealError):
        unseal(key, sealed, context)


def test_token_sealer_round_trip() -> None:
    sealer = TokenSealer()
    sealed = sealer.seal("refresh-token", b'{"a": 1}')
    assert b'{"a": 1}' not in sealed
    assert sealer.unseal("refresh-token", sealed) == b'{"a": 1}'


@pytest.mark.parametrize(
    ("secret", "tamper"),
    [
        pytest.param("another-token", False, id="other-secret"),
        pytest.param("refresh-token", True, id="tampered"),
    ],
)
def test_token_sealer_refuses(secret: str, tamper: bool) -> None:
    sealer = TokenSealer()
    sealed = sealer.seal("refresh-token", b"body")
    with pytest.raises(SealError):
        sealer.unseal(secret, flip(sealed, 20) if tamper else sealed)
