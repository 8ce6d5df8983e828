"""The one place where secrets are compared."""

from __future__ import annotations

import hmac


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets in time independent of where they differ."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
