"""User passwords: argon2id."""

from __future__ import annotations

import pytest

from ostiary.crypto.passwords import hash_password, verify_password

PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)


def test_hash_is_argon2id_and_salted() -> None:
    assert HASH.startswith("$argon2id$")
    assert PASSWORD not in HASH
    assert hash_password(PASSWORD) != HASH


@pytest.mark.parametrize(
    ("password_hash", "password", "expected"),
    [
        pytest.param(HASH, PASSWORD, True, id="right-password"),
        pytest.param(HASH, PASSWORD + " ", False, id="wrong-password"),
        pytest.param(HASH, "", False, id="empty-password"),
        pytest.param(None, PASSWORD, False, id="no-user"),
        pytest.param(None, "ostiary-dummy-password", False, id="no-user-with-dummy-password"),
        pytest.param("", PASSWORD, False, id="empty-hash"),
        pytest.param("not-a-hash", PASSWORD, False, id="malformed-hash"),
        pytest.param("$argon2id$v=19$m=1,t=1,p=1$xx$yy", PASSWORD, False, id="corrupt-argon2"),
    ],
)
def test_verify_password(password_hash: str | None, password: str, expected: bool) -> None:
    assert verify_password(password_hash, password) is expected
