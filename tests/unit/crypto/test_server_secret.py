"""The server secret file and the keys derived from it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ostiary.crypto.server_secret import SecretFileError, ServerKeys, load_or_create_secret


def test_created_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "ostiary.secret"
    secret = load_or_create_secret(path)
    assert len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == secret.hex() + "\n"
    assert load_or_create_secret(path) == secret


def test_existing_secret_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("ab" * 40 + "\n")
    assert load_or_create_secret(path) == bytes([0xAB]) * 40


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("not hex", "cannot read server secret", id="not-hex"),
        pytest.param("abc", "cannot read server secret", id="odd-length-hex"),
        pytest.param("ab" * 31, "shorter than 32 bytes", id="31-bytes"),
        pytest.param("", "shorter than 32 bytes", id="empty"),
    ],
)
def test_malformed_secret_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "s"
    path.write_text(content)
    with pytest.raises(SecretFileError, match=message):
        load_or_create_secret(path)


def test_unreadable_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.mkdir()  # a directory exists but cannot be read as text
    with pytest.raises(SecretFileError, match="cannot read server secret"):
        load_or_create_secret(path)


def test_server_keys_are_distinct_per_purpose_and_deterministic() -> None:
    keys = ServerKeys.from_secret(bytes(32))
    assert len({keys.token_hashing, keys.key_encryption, keys.cookie_signing}) == 3
    assert all(len(k) == 32 for k in (keys.token_hashing, keys.key_encryption, keys.cookie_signing))
    assert ServerKeys.from_secret(bytes(32)) == keys
    assert ServerKeys.from_secret(bytes([1]) * 32) != keys
