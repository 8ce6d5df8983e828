"""The checks every JWT verifier shares (``verifiers.claims``), table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from ostiary.resource.tokens import InvalidToken
from ostiary.resource.verifiers.claims import asymmetric_key_set, verified_token, verify_jwt

from .verifier_support import (
    ISSUER,
    NOW,
    OTHER_RESOURCE,
    RESOURCE,
    Signer,
    claims,
    hmac_token,
    none_token,
)

SIGNER = Signer()


def check(token: str, now: int = NOW) -> dict[str, Any]:
    return verify_jwt(token, SIGNER.key_set, issuer=ISSUER, resource=RESOURCE, now=now)


def test_a_good_token_verifies_and_maps_to_a_verified_token() -> None:
    verified = verified_token(check(SIGNER.sign()))
    assert verified.subject == "alice"
    assert verified.client_id == "desktop"
    assert verified.scopes == {"tools:read", "tools:execute"}
    assert verified.audience == (RESOURCE,)
    assert verified.issuer == ISSUER
    assert verified.expires_at == NOW + 300
    assert verified.grant_id == "grant-1"


def test_an_audience_list_containing_this_resource_is_accepted() -> None:
    token = SIGNER.sign(claims(aud=[OTHER_RESOURCE, RESOURCE]))
    assert verified_token(check(token)).audience == (OTHER_RESOURCE, RESOURCE)


REFUSED = [
    pytest.param(SIGNER.sign(claims(aud=OTHER_RESOURCE)), NOW, "audience", id="other-resource"),
    pytest.param(SIGNER.sign(claims(iss=ISSUER + "/")), NOW, "issuer", id="issuer-not-exact"),
    pytest.param(SIGNER.sign(claims(exp=NOW - 31)), NOW, "expired", id="expired-beyond-skew"),
    pytest.param(SIGNER.sign(claims(nbf=NOW + 31)), NOW, "not yet valid", id="nbf-beyond-skew"),
    pytest.param(SIGNER.sign(typ="JWT"), NOW, "RFC 9068", id="typ-jwt"),
    pytest.param(SIGNER.sign(typ=None), NOW, "RFC 9068", id="no-typ"),
    pytest.param(SIGNER.sign(kid=None), NOW, "no signing key", id="no-kid"),
    pytest.param(Signer("k1").sign(), NOW, "signature", id="other-key-same-kid"),
    pytest.param(Signer("k9").sign(), NOW, "signature", id="unknown-kid"),
    pytest.param(none_token(), NOW, "algorithm", id="alg-none"),
    pytest.param(hmac_token(b"x" * 32), NOW, "algorithm", id="alg-hs256"),
    pytest.param("not-a-jwt", NOW, "not a signed JWT", id="opaque"),
    pytest.param("e30.e30.", NOW, "algorithm", id="empty-header"),
    pytest.param("!!.e30.x", NOW, "malformed", id="garbage-header"),
]


@pytest.mark.parametrize(("token", "now", "words"), REFUSED)
def test_refused_tokens_say_why_and_never_echo_the_token(token: str, now: int, words: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        check(token, now)
    assert words in refused.value.description
    assert token not in refused.value.description
    for part in token.split("."):
        assert len(part) < 8 or part not in refused.value.description


@pytest.mark.parametrize(
    ("changes", "ok"),
    [
        pytest.param({"exp": NOW - 29}, True, id="exp-within-skew"),
        pytest.param({"exp": NOW - 30}, False, id="exp-at-skew"),
        pytest.param({"nbf": NOW + 30}, True, id="nbf-within-skew"),
    ],
)
def test_the_skew_is_thirty_seconds(changes: dict[str, Any], ok: bool) -> None:
    token = SIGNER.sign(claims(**changes))
    if ok:
        assert check(token)["sub"] == "alice"
    else:
        with pytest.raises(InvalidToken):
            check(token)


@pytest.mark.parametrize("missing", ["sub", "client_id"])
def test_a_token_without_subject_or_client_is_refused(missing: str) -> None:
    with pytest.raises(InvalidToken, match="names no"):
        verified_token(check(SIGNER.sign(claims(**{missing: None}))))


def test_a_jwks_keeps_only_asymmetric_signing_keys() -> None:
    oct_key = {"kty": "oct", "kid": "h", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
    enc = {**Signer("e").public, "use": "enc"}
    keys = asymmetric_key_set({"keys": [oct_key, enc, SIGNER.public]})
    assert [k.kid for k in keys.keys] == ["k1"]
    with pytest.raises(ValueError, match="keys array"):
        asymmetric_key_set({"keys": "nope"})
