"""Reading our own access tokens back: the core asks, the server layer verifies the JWT.

The core holds no JOSE code, so revocation and introspection get the verified claims through
an injected ``AccessTokenReader``. Verification there covers signature (with every published
key, retired ones included), ``typ``, ``iss``, ``aud`` among our resources, and ``exp``.
"""

from __future__ import annotations

from typing import Any, Protocol


class AccessTokenReader(Protocol):
    """Verifies an access token this server signed."""

    def read(self, token: str) -> dict[str, Any] | None:
        """Its claims if it verifies and has not expired; None for anything else."""


class NoAccessTokens:
    """Knows no access token: every JWT is inactive (unit tests, library use without keys)."""

    def read(self, token: str) -> dict[str, Any] | None:
        return None
