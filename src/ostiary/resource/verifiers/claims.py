"""What every JWT verifier shares: the header peek, the RFC 9068 checks, the claims mapping.

Descriptions raised here are fixed sentences (never the token, never a library message that
might quote it), safe for a ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import base64
import binascii
import json
import warnings
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet

from ostiary.core.clock import Clock
from ostiary.crypto.jwt import JwtVerificationError, verify_access_token
from ostiary.resource.tokens import InvalidToken, VerifiedToken
from ostiary.resource.verifiers.verified_cache import VerifiedTokenCache

# Asymmetric only: never ``none``, never HS* (a public key must not become an HMAC secret).
# ``EdDSA`` is RFC 9864's deprecated name for Ed25519, still used by other servers.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("ES256", "RS256", "Ed25519", "EdDSA")
DEFAULT_LEEWAY = 30  # seconds of clock skew allowed on ``exp`` and ``nbf``
ASYMMETRIC_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})


def jose_header(token: str, algorithms: Collection[str]) -> dict[str, Any]:
    """The protected header of a compact JWS, with an allowed ``alg`` and a ``kid``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("the token is not a signed JWT")
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidToken("the token header is malformed") from None
    if not isinstance(header, dict):
        raise InvalidToken("the token header is malformed")
    if header.get("alg") not in algorithms:
        raise InvalidToken("the token is signed with an algorithm that is not allowed")
    if not isinstance(header.get("kid"), str):
        raise InvalidToken("the token names no signing key")
    return header


def verify_jwt(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    resource: str,
    now: int,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    leeway: int = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """Signature, ``typ``, ``iss``, ``aud`` ∋ resource, ``exp``/``nbf`` (RFC 9068 §4)."""
    alg = jose_header(token, algorithms)["alg"]
    try:
        with warnings.catch_warnings():
            if alg == "EdDSA":  # accepted on purpose for other servers; see DEFAULT_ALGORITHMS
                warnings.simplefilter("ignore", SecurityWarning)
            return verify_access_token(
                token,
                keys,
                issuer=issuer,
                audience=resource,
                now=now,
                algorithms=algorithms,
                leeway=leeway,
            )
    except JwtVerificationError as exc:
        message = str(exc)
        if message.startswith("invalid token"):  # joserfc's own words: not repeated
            raise InvalidToken("the token signature or format is invalid") from None
        raise InvalidToken(message) from None


def asymmetric_key_set(jwks: Mapping[str, Any]) -> KeySet:
    """The signing keys of a JWKS document; symmetric and encryption-only keys are dropped."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError("a JWKS needs a keys array")
    usable = [
        k
        for k in entries
        if isinstance(k, dict)
        and k.get("kty") in ASYMMETRIC_KEY_TYPES
        and k.get("use", "sig") == "sig"
        and isinstance(k.get("kid"), str)
    ]
    return KeySet.import_key_set({"keys": usable})


def scopes_of(value: object) -> frozenset[str]:
    """RFC 9068 §2.2.3 / RFC 7662 §2.2: ``scope`` is one space-separated string."""
    return frozenset(value.split()) if isinstance(value, str) else frozenset()


def audiences_of(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(a for a in value if isinstance(a, str))
    return ()


def verified_token(claims: dict[str, Any], *, subject_fallback: bool = False) -> VerifiedToken:
    """Map checked claims to a ``VerifiedToken``; ``sub`` and ``client_id`` are required.

    ``subject_fallback``: an introspection answer without ``sub`` (allowed by RFC 7662) is
    the client acting for itself, so its ``client_id`` stands in.
    """
    client_id, subject = claims.get("client_id"), claims.get("sub")
    if not isinstance(client_id, str) or not client_id:
        raise InvalidToken("the token names no client")
    if subject_fallback and subject is None:
        subject = client_id
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the token names no subject")
    gid = claims.get("gid")
    return VerifiedToken(
        subject=subject,
        client_id=client_id,
        scopes=scopes_of(claims.get("scope")),
        audience=audiences_of(claims.get("aud")),
        issuer=str(claims.get("iss", "")),
        expires_at=int(claims["exp"]),
        grant_id=gid if isinstance(gid, str) else None,
        claims=dict(claims),
    )


async def verify_jwt_cached(
    token: str,
    cache: VerifiedTokenCache,
    key_set: Callable[[], Awaitable[KeySet]],
    *,
    issuer: str,
    resource: str,
    clock: Clock,
    algorithms: Collection[str],
    leeway: int,
) -> VerifiedToken:
    """``verify_jwt`` + ``verified_token``, served from ``cache`` while the token is unexpired.

    ``key_set`` is asked only on a miss (a JWKS verifier may fetch keys then).
    """
    key = cache.key(token)
    cached = cache.get(key)
    if cached is not None and cached.expires_at + leeway > clock.now():
        return cached
    claims = verify_jwt(
        token,
        await key_set(),
        issuer=issuer,
        resource=resource,
        now=clock.now(),
        algorithms=algorithms,
        leeway=leeway,
    )
    verified = verified_token(claims)
    cache.put(key, verified, verified.expires_at - clock.now())
    return verified
