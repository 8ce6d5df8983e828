"""``AccessTokenReader`` over the key ring: our own JWTs, verified with every published key."""

from __future__ import annotations

import copy
from typing import Any, Protocol

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ostiary.core.clock import Clock
from ostiary.core.config import ServerConfig
from ostiary.crypto.jwt import JwtVerificationError, verify_access_token


class PublishedKeys(Protocol):
    """The JWKS document the server publishes (current and retired-but-published keys)."""

    @property
    def jwks(self) -> dict[str, Any]: ...


class KeyRingTokenReader:
    """Verifies signature, ``typ``, ``iss``, ``aud`` (one of our resources) and ``exp``.

    No leeway: a token is inactive from its ``exp`` on (RFC 7662 §2.2). The ``KeySet`` is
    built once per JWKS document and rebuilt when the key ring publishes a new one.
    """

    def __init__(self, keys: PublishedKeys, config: ServerConfig, clock: Clock) -> None:
        self._keys = keys
        self._config = config
        self._clock = clock
        self._jwks: dict[str, Any] | None = None
        self._key_set: KeySet | None = None

    def key_set(self) -> KeySet | None:
        """The published keys as a ``KeySet``; None while none is published."""
        jwks = self._keys.jwks
        if self._jwks is None or jwks != self._jwks:
            try:
                self._key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError):
                self._key_set = None
            self._jwks = copy.deepcopy(jwks)  # compared by value: a change in place counts
        return self._key_set

    def read(self, token: str) -> dict[str, Any] | None:
        keys, now = self.key_set(), self._clock.now()
        if keys is None:
            return None
        for audience in self._config.resources:  # a few at most; usually one
            try:
                return verify_access_token(
                    token, keys, issuer=self._config.issuer, audience=audience, now=now, leeway=0
                )
            except JwtVerificationError:
                continue
        return None
