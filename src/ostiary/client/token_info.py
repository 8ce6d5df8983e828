"""What a person may want to see of an access token: its subject and expiry, for display only.

Access tokens are opaque to clients (RFC 6749 §1.4). When one happens to be a JWT, its
payload is read *without verification* to show who the session acts for; nothing the
client decides depends on it.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The JWT payload of ``token``, or None when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def display_subject(token: str) -> str | None:
    """``sub`` (with ``username`` or ``email`` when present) for people to read."""
    claims = unverified_claims(token)
    if claims is None:
        return None
    subject = claims.get("sub")
    name = claims.get("username") or claims.get("preferred_username") or claims.get("email")
    if isinstance(name, str) and name:
        return name
    return subject if isinstance(subject, str) else None
