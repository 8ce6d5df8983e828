"""Constant-time comparison."""

from __future__ import annotations

import pytest

from ostiary.crypto.compare import constant_time_equals


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("secret", "secret", True, id="equal-str"),
        pytest.param(b"secret", b"secret", True, id="equal-bytes"),
        pytest.param("secret", b"secret", True, id="str-and-bytes"),
        pytest.param("", "", True, id="both-empty"),
        pytest.param("ünï", "ünï".encode(), True, id="non-ascii-utf8"),
        pytest.param("secret", "secreT", False, id="last-char-differs"),
        pytest.param("secret", "Secret", False, id="first-char-differs"),
        pytest.param("secret", "secret2", False, id="longer"),
        pytest.param("secret", "", False, id="empty"),
    ],
)
def test_constant_time_equals(a: str | bytes, b: str | bytes, expected: bool) -> None:
    assert constant_time_equals(a, b) is expected
    assert constant_time_equals(b, a) is expected
