"""JWT access tokens (RFC 9068): signing, and verification of every rule in one call."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ostiary.crypto.keys import SIGNING_ALGORITHMS, LoadedKey

ACCESS_TOKEN_TYPE = "at+jwt"


class JwtSigner:
    """Signs RFC 9068 access tokens with the current key."""

    def __init__(self, key: LoadedKey) -> None:
        self._key = key
        self._header = {"alg": key.alg, "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}

    @property
    def kid(self) -> str:
        return self._key.kid

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(self._header, claims, self._key.key, algorithms=[self._key.alg])


class JwtVerificationError(Exception):
    """The token failed one of the RFC 9068 §4 checks."""


def verify_access_token(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    now: int,
    algorithms: Collection[str] = SIGNING_ALGORITHMS,
    leeway: int = 30,
) -> dict[str, Any]:
    """Verify signature, ``typ``, ``iss``, ``aud``, ``exp`` and ``nbf``; return the claims.

    ``algorithms`` defaults to the asymmetric ones we sign with; never ``none`` or HS*.
    """
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except (JoseError, ValueError) as exc:
        raise JwtVerificationError(f"invalid token: {exc}") from exc
    typ = str(decoded.header.get("typ", "")).lower()
    if typ not in {"at+jwt", "application/at+jwt"}:
        raise JwtVerificationError("token is not an RFC 9068 access token")
    claims = decoded.claims
    if claims.get("iss") != issuer:
        raise JwtVerificationError("token issuer is not trusted")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise JwtVerificationError("token audience does not match")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or exp + leeway <= now:
        raise JwtVerificationError("token has expired")
    if isinstance(nbf, int) and nbf - leeway > now:
        raise JwtVerificationError("token is not yet valid")
    return claims
