"""PKCE S256 (RFC 7636): the Appendix B vector, challenge validation, verifier checks."""

from __future__ import annotations

import pytest

from ostiary.core.errors import InvalidGrant, InvalidRequest
from ostiary.core.pkce import check_code_challenge, s256_challenge, verify_code_verifier

from ..support import CHALLENGE, VERIFIER

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def test_rfc7636_appendix_b_vector() -> None:
    assert s256_challenge(VERIFIER) == CHALLENGE


def test_challenge_is_unpadded_base64url_of_sha256() -> None:
    challenge = s256_challenge("a" * 43)
    assert len(challenge) == 43
    assert "=" not in challenge
    assert "+" not in challenge
    assert "/" not in challenge


@pytest.mark.parametrize(
    "verifier",
    [
        pytest.param(VERIFIER, id="rfc7636-appendix-b"),
        pytest.param("a" * 43, id="minimum-length-43"),
        pytest.param("Z" * 128, id="maximum-length-128"),
        pytest.param((UNRESERVED * 2)[:128], id="every-unreserved-character"),
    ],
)
def test_verifier_matching_its_challenge_is_accepted(verifier: str) -> None:
    verify_code_verifier(verifier, s256_challenge(verifier))  # no exception


@pytest.mark.parametrize(
    ("verifier", "challenge"),
    [
        pytest.param(None, CHALLENGE, id="missing"),
        pytest.param("", CHALLENGE, id="empty"),
        pytest.param(VERIFIER[:-1] + "l", CHALLENGE, id="wrong-verifier-same-length"),
        pytest.param("b" * 43, CHALLENGE, id="another-valid-verifier"),
        pytest.param("a" * 42, s256_challenge("a" * 42), id="too-short-42-even-if-matching"),
        pytest.param("a" * 129, s256_challenge("a" * 129), id="too-long-129-even-if-matching"),
        pytest.param("a" * 42 + "+", s256_challenge("a" * 42 + "+"), id="bad-charset-plus"),
        pytest.param("a" * 42 + "/", s256_challenge("a" * 42 + "/"), id="bad-charset-slash"),
        pytest.param("a" * 42 + "=", s256_challenge("a" * 42 + "="), id="bad-charset-padding"),
        pytest.param("a" * 42 + " ", s256_challenge("a" * 42 + " "), id="bad-charset-space"),
        pytest.param("a" * 42 + "é", CHALLENGE, id="bad-charset-non-ascii"),
        pytest.param(VERIFIER + "\n", CHALLENGE, id="trailing-newline"),
        pytest.param(CHALLENGE, CHALLENGE, id="challenge-sent-as-verifier"),
        pytest.param(VERIFIER, CHALLENGE.lower(), id="challenge-compared-case-sensitively"),
    ],
)
def test_bad_verifier_is_invalid_grant(verifier: str | None, challenge: str) -> None:
    with pytest.raises(InvalidGrant) as caught:
        verify_code_verifier(verifier, challenge)
    assert caught.value.error == "invalid_grant"


def test_valid_challenge_is_returned() -> None:
    assert check_code_challenge(CHALLENGE, "S256") == CHALLENGE


@pytest.mark.parametrize(
    ("challenge", "method"),
    [
        pytest.param(None, "S256", id="missing-challenge"),
        pytest.param("", "S256", id="empty-challenge"),
        pytest.param(CHALLENGE, None, id="missing-method-means-plain"),
        pytest.param(CHALLENGE, "plain", id="plain-method"),
        pytest.param(CHALLENGE, "s256", id="method-is-case-sensitive"),
        pytest.param(CHALLENGE[:-1], "S256", id="challenge-42-chars"),
        pytest.param(CHALLENGE + "A", "S256", id="challenge-44-chars"),
        pytest.param(CHALLENGE[:-1] + "=", "S256", id="challenge-with-padding"),
        pytest.param(CHALLENGE[:-1] + "+", "S256", id="challenge-not-base64url"),
        pytest.param(VERIFIER + "~", "S256", id="challenge-with-tilde"),
    ],
)
def test_bad_challenge_is_invalid_request(challenge: str | None, method: str | None) -> None:
    with pytest.raises(InvalidRequest):
        check_code_challenge(challenge, method)
