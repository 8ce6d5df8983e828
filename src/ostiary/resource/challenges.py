"""``WWW-Authenticate: Bearer`` challenges (RFC 6750 §3, RFC 9728 §5.1) and their bodies.

- no credentials → 401 ``resource_metadata``, ``scope`` (no ``error``: RFC 6750 §3.1);
- a bad token → 401 ``error="invalid_token"``;
- a token in the query, in a form body, or two credentials → 400 ``error="invalid_request"``;
- a valid token lacking a scope → 403 ``error="insufficient_scope"`` naming every scope the
  operation needs.

Attribute values are quoted strings: ``\\`` and ``"`` are escaped, and control characters
(which a quoted-string cannot carry) become spaces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quote(value: str) -> str:
    """An RFC 9110 quoted-string."""
    escaped = _CONTROL.sub(" ", value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def bearer(*attributes: tuple[str, str | None]) -> str:
    """``Bearer a="…", b="…"`` with the ``None`` attributes left out."""
    parts = [f"{name}={quote(value)}" for name, value in attributes if value is not None]
    return "Bearer " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Refusal:
    """An HTTP refusal: status, the challenge (if any) and an OAuth-style JSON body."""

    status: int
    error: str
    description: str
    challenge: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
        ]
        if self.challenge is not None:
            headers.append((b"www-authenticate", self.challenge.encode()))
        return headers

    def body(self) -> bytes:
        return json.dumps({"error": self.error, "error_description": self.description}).encode()


def missing_token(resource_metadata: str, scope: str) -> Refusal:
    challenge = bearer(("resource_metadata", resource_metadata), ("scope", scope or None))
    return Refusal(401, "unauthorized", "authorization required", challenge)


def invalid_token(resource_metadata: str, description: str) -> Refusal:
    challenge = bearer(
        ("error", "invalid_token"),
        ("error_description", description),
        ("resource_metadata", resource_metadata),
    )
    return Refusal(401, "invalid_token", description, challenge)


def invalid_request(resource_metadata: str, description: str) -> Refusal:
    challenge = bearer(
        ("error", "invalid_request"),
        ("error_description", description),
        ("resource_metadata", resource_metadata),
    )
    return Refusal(400, "invalid_request", description, challenge)


def insufficient_scope(resource_metadata: str, scope: str, description: str) -> Refusal:
    challenge = bearer(
        ("error", "insufficient_scope"),
        ("scope", scope or None),
        ("error_description", description),
        ("resource_metadata", resource_metadata),
    )
    return Refusal(403, "insufficient_scope", description, challenge)


def forbidden(description: str) -> Refusal:
    """Not an authorization problem (an untrusted Origin): 403 without a challenge."""
    return Refusal(403, "forbidden", description)


def not_found(description: str) -> Refusal:
    return Refusal(404, "not_found", description)


def too_large(limit: int) -> Refusal:
    return Refusal(413, "invalid_request", f"request body larger than {limit} bytes")
