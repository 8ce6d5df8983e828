"""The server's signing keys: the current one signs, all live ones are published."""

from __future__ import annotations

from typing import Any

from ostiary.core.clock import Clock
from ostiary.crypto.jwt import JwtSigner
from ostiary.crypto.keys import generate_signing_key, jwks_document, load_signing_key
from ostiary.storage.protocols import KeyStore


class KeyRing:
    """Signs with the newest unretired key; publishes every key not yet retired."""

    def __init__(self, store: KeyStore, encryption_key: bytes, clock: Clock) -> None:
        self._store = store
        self._encryption_key = encryption_key
        self._clock = clock
        self._signer: JwtSigner | None = None
        self._jwks: dict[str, Any] = {"keys": []}

    async def load(self) -> None:
        """Read keys from the store, creating the first one if there is none."""
        records = [k for k in await self._store.list_signing_keys() if k.retired_at is None]
        if not records:
            record = generate_signing_key(self._encryption_key, self._clock.now())
            await self._store.save_signing_key(record)
            records = [record]
        self._signer = JwtSigner(load_signing_key(records[-1], self._encryption_key))
        self._jwks = jwks_document(records)

    @property
    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def sign(self, claims: dict[str, Any]) -> str:
        if self._signer is None:
            raise RuntimeError("key ring used before load()")
        return self._signer.sign(claims)
