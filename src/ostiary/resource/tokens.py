"""What every token verifier gives back, and the one protocol they share.

A verifier checks a bearer token completely (algorithm allow-list, ``typ``, ``iss`` exactly,
``aud`` containing this resource, ``exp``/``nbf`` with a small skew, and revocation where it
can know it) and returns a ``VerifiedToken``, or raises ``InvalidToken`` with a description
safe to put in a ``WWW-Authenticate`` challenge (never the token itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class InvalidToken(Exception):
    """RFC 6750 §3.1 ``invalid_token``: malformed, expired, revoked, foreign or unverifiable."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """The caller, as the token says: who, through which client, allowed what, until when."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    audience: tuple[str, ...]
    issuer: str
    expires_at: int
    grant_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class TokenVerifier(Protocol):
    """Local, JWKS or introspection: interchangeable behind this one method."""

    async def verify(self, token: str) -> VerifiedToken: ...
