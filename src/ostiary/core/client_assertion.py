"""``private_key_jwt`` client authentication (RFC 7523 §2.2, §3; OpenID Connect Core §9).

The client sends ``client_assertion_type`` (the jwt-bearer URN) and ``client_assertion``, a
JWT it signed with a key from its registered ``jwks`` or ``jwks_uri``. The core holds no JOSE
code: an injected ``ClientAssertionVerifier`` checks the signature (algorithm allow-list, the
client's own keys) and returns the claims; the core then checks them here:

* ``iss`` and ``sub`` are both the client id (RFC 7523 §3 items 1-2);
* ``aud`` names the token endpoint URL or the issuer (§3 item 3);
* ``exp`` is in the future, at most ``MAX_ASSERTION_LIFETIME`` seconds away, and, with
  ``iat``, no more than that after it (§3 item 4; a short lifetime bounds the replay cache);
* ``iat`` and ``nbf``, if present, are not in the future beyond ``CLOCK_SKEW``;
* ``jti`` is present and was not seen from this client before the assertion expires
  (§3 item 7), which an injected ``ReplayGuard`` decides.

``MemoryReplayGuard`` keeps seen ``jti`` values in this process only: with several server
processes an assertion could be replayed once per process within its (at most 5-minute)
lifetime. A store-backed guard plugs into the same Protocol.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from typing import Any, Protocol

from ostiary.core.errors import InvalidClient, TemporarilyUnavailable
from ostiary.core.models import Client, ClientId

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Asymmetric only: never "none", never HS* (the server holds no shared key to check them).
# Ed25519 is the RFC 9864 fully-specified name of what EdDSA means here.
ASSERTION_ALGORITHMS: tuple[str, ...] = ("ES256", "RS256", "EdDSA", "Ed25519")
MAX_ASSERTION_LIFETIME = 300
CLOCK_SKEW = 30
MAX_JTI_LENGTH = 256


class ClientAssertionVerifier(Protocol):
    """Checks an assertion's signature against the client's registered keys."""

    async def verify(self, assertion: str, client: Client) -> dict[str, Any]:
        """The claims, once the signature verifies under one of ``client``'s keys with an
        algorithm of ``ASSERTION_ALGORITHMS``; raise ``InvalidClient`` otherwise. Claims are
        not checked here: ``check_assertion_claims`` does that."""


class RejectAssertions:
    """The default: no assertion verifies (unit tests, library use without JOSE wiring)."""

    async def verify(self, assertion: str, client: Client) -> dict[str, Any]:
        raise InvalidClient("client assertions are not accepted by this server")


class ReplayGuard(Protocol):
    """Remembers each (client, jti) until its assertion expires."""

    async def first_use(self, client_id: ClientId, jti: str, expires_at: int, now: int) -> bool:
        """True the first time; False if seen before and not yet expired."""


class MemoryReplayGuard:
    """Seen ``jti`` values in this process, each kept until its assertion's ``exp``.

    When ``max_entries`` live entries are held, new assertions are refused (fail closed)
    with ``temporarily_unavailable`` rather than forgetting one that could be replayed.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._seen: dict[tuple[ClientId, str], int] = {}

    async def first_use(self, client_id: ClientId, jti: str, expires_at: int, now: int) -> bool:
        key = (client_id, jti)
        seen = self._seen.get(key)
        if seen is not None and seen >= now:
            return False
        if len(self._seen) >= self._max:
            self._seen = {k: exp for k, exp in self._seen.items() if exp >= now}
            if len(self._seen) >= self._max:
                raise TemporarilyUnavailable("too many client assertions; try again shortly")
        self._seen[key] = expires_at
        return True


def assertion_subject(assertion: str) -> str:
    """The unverified ``sub`` of an assertion: only to find which client claims to send it.

    Nothing is trusted from it: the signature and every claim are checked afterwards against
    that client's keys (RFC 7523 §3: ``sub`` is the client id).
    """
    parts = assertion.split(".")
    if len(parts) != 3:
        raise InvalidClient("client_assertion is not a signed JWT")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidClient("client_assertion is not a signed JWT") from None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(subject, str) or not subject:
        raise InvalidClient("client_assertion has no sub")
    return subject


def _int_claim(claims: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidClient(f"client assertion {name} must be a NumericDate")
    return value


def _check_audience(claims: dict[str, Any], audiences: Collection[str]) -> None:
    aud = claims.get("aud")
    values = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(v, str) and v in audiences for v in values):
        raise InvalidClient("client assertion audience must be the token endpoint or issuer")


def _check_times(claims: dict[str, Any], now: int) -> int:
    exp = _int_claim(claims, "exp", required=True)
    iat = _int_claim(claims, "iat", required=False)
    nbf = _int_claim(claims, "nbf", required=False)
    assert exp is not None
    if exp <= now:
        raise InvalidClient("client assertion has expired")
    if exp - now > MAX_ASSERTION_LIFETIME + CLOCK_SKEW or (
        iat is not None and exp - iat > MAX_ASSERTION_LIFETIME
    ):
        raise InvalidClient(f"client assertion lifetime exceeds {MAX_ASSERTION_LIFETIME} s")
    if (iat is not None and iat > now + CLOCK_SKEW) or (nbf is not None and nbf > now + CLOCK_SKEW):
        raise InvalidClient("client assertion is not yet valid")
    return exp


def check_assertion_claims(
    claims: dict[str, Any], client_id: ClientId, audiences: Collection[str], now: int
) -> tuple[str, int]:
    """Check the RFC 7523 §3 claims of a verified assertion; return its ``jti`` and ``exp``."""
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise InvalidClient("client assertion iss and sub must both be the client_id")
    _check_audience(claims, audiences)
    exp = _check_times(claims, now)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidClient("client assertion needs a jti")
    return jti, exp


async def check_client_assertion(
    assertion: str,
    client: Client,
    *,
    verifier: ClientAssertionVerifier,
    replay: ReplayGuard,
    audiences: Collection[str],
    now: int,
) -> None:
    """Signature (by ``verifier``), claims, then single use: in that order, so an unsigned
    or invalid assertion can never fill the replay cache."""
    claims = await verifier.verify(assertion, client)
    jti, exp = check_assertion_claims(claims, client.client_id, audiences, now)
    if not await replay.first_use(client.client_id, jti, exp, now):
        raise InvalidClient("client assertion was already used")
