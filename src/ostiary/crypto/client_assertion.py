"""Signature checks of ``private_key_jwt`` client assertions (RFC 7523 §3 item 9, RFC 7515).

Only the signature is checked here, against the client's own public keys and with an
asymmetric algorithm from ``ASSERTION_ALGORITHMS`` (never ``none``, never HS*); the claims
are the core's to check (``ostiary.core.client_assertion``).

A key is a candidate when its type fits the header's ``alg`` (EC P-256 for ES256, RSA of at
least 2048 bits for RS256, OKP Ed25519 for EdDSA/Ed25519), its ``kid`` equals the header's
(when the header names one), its ``use`` is absent or ``sig`` and its ``alg`` absent or the
header's. At most ``MAX_CANDIDATES`` candidates are tried.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from ostiary.core.client_assertion import ASSERTION_ALGORITHMS

if TYPE_CHECKING:
    from joserfc._rfc7515.model import JWSAlgModel  # not re-exported by joserfc.jws

MAX_CANDIDATES = 10
MIN_RSA_BITS = 2048
AssertionKey = ECKey | RSAKey | OKPKey


class AssertionRejected(Exception):
    """The assertion's signature does not verify under any of the client's keys."""


class NoMatchingKey(AssertionRejected):
    """None of the client's keys could have signed it (a rotated ``jwks_uri`` may have it)."""


class _AllowListRegistry(JWSRegistry):
    """Exactly ``ASSERTION_ALGORITHMS``; no warning for EdDSA, which the allow-list accepts
    on purpose (RFC 9864 deprecates the name, not the algorithm; clients still send it)."""

    def get_alg(self, name: str) -> JWSAlgModel:
        if name not in ASSERTION_ALGORITHMS or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


REGISTRY = _AllowListRegistry(algorithms=list(ASSERTION_ALGORITHMS))


def _fits(key: AssertionKey, alg: str) -> bool:
    if alg == "ES256":
        return isinstance(key, ECKey) and key.curve_name == "P-256"
    if alg == "RS256":
        return isinstance(key, RSAKey)
    return isinstance(key, OKPKey) and key.curve_name == "Ed25519"


def _rsa_bits(modulus: Any) -> int:
    if not isinstance(modulus, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except (ValueError, binascii.Error):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _import(jwk: Any) -> AssertionKey | None:
    """The public part of one JWK, or None if it is not an asymmetric signing key."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") not in {"EC", "RSA", "OKP"}:
        return None
    if jwk.get("kty") == "RSA" and _rsa_bits(jwk.get("n")) < MIN_RSA_BITS:
        return None  # checked before import, which would only warn
    public = {k: v for k, v in jwk.items() if k not in {"d", "p", "q", "dp", "dq", "qi", "oth"}}
    try:
        key = JWKRegistry.import_key(public)
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return key if isinstance(key, ECKey | RSAKey | OKPKey) else None


def candidate_keys(jwks: Mapping[str, Any], header: Mapping[str, Any]) -> list[AssertionKey]:
    """The client's keys that could have made this signature (see the module docstring)."""
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ASSERTION_ALGORITHMS:
        raise AssertionRejected(f"alg {alg!r} is not allowed for client assertions")
    found: list[AssertionKey] = []
    entries = jwks.get("keys")
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("alg", alg) != alg or (kid is not None and jwk.get("kid") != kid):
            continue
        key = _import(jwk)
        if key is not None and _fits(key, str(alg)):
            found.append(key)
    return found[:MAX_CANDIDATES]


def verify_client_assertion(assertion: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of ``assertion`` if one of ``jwks`` signed it; ``AssertionRejected`` if not."""
    try:
        header = jws.extract_compact(assertion.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise AssertionRejected("client_assertion is not a compact JWS") from exc
    keys = candidate_keys(jwks, header)
    if not keys:
        raise NoMatchingKey("no registered key matches the client assertion")
    for key in keys:
        try:
            token = jwt.decode(
                assertion, key, algorithms=list(ASSERTION_ALGORITHMS), registry=REGISTRY
            )
        except (JoseError, ValueError):
            continue
        return dict(token.claims)
    raise AssertionRejected("the client assertion signature does not verify")
