"""The server's signing keys: the newest unretired one signs; retired ones stay published
until every token they signed has expired, then drop out of the JWKS.

Rotation is a store operation (``rotate_signing_key``, used by ``ostiary key rotate``); a
running server sees it when its ``KeyRing`` next reloads (``reload_forever``, every
``KeyPolicy.reload_interval`` seconds). Signing never reads the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from joserfc.jwk import KeySet

from ostiary.core.clock import Clock
from ostiary.core.models import SigningKey
from ostiary.crypto.jwt import JwtSigner
from ostiary.crypto.keys import generate_signing_key, jwks_document, load_signing_key
from ostiary.storage.protocols import KeyStore

log = logging.getLogger("ostiary.keys")

DEFAULT_RELOAD_INTERVAL = 30
DEFAULT_PUBLICATION_LEEWAY = 60  # covers verifiers' clock-skew leeway (30 s) with room to spare

KeyState = Literal["current", "active", "retired", "expired"]


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """How long keys live in the JWKS, how often the ring rereads the store, what to generate."""

    access_token_ttl: int = 3600
    reload_interval: int = DEFAULT_RELOAD_INTERVAL
    leeway: int = DEFAULT_PUBLICATION_LEEWAY
    alg: str = "ES256"

    def published_until(self, key: SigningKey) -> int | None:
        """When a retired key leaves the JWKS; None while it is unretired.

        A server signs with a retired key until its next reload, and the last such token
        lives ``access_token_ttl`` more seconds; ``leeway`` covers verifiers' clock skew.
        """
        return None if key.retired_at is None else self.window_end(key.retired_at)

    def window_end(self, retired_at: int) -> int:
        return retired_at + self.reload_interval + self.access_token_ttl + self.leeway

    def is_published(self, key: SigningKey, now: int) -> bool:
        until = self.published_until(key)
        return until is None or now < until


def key_states(
    records: Sequence[SigningKey], policy: KeyPolicy, now: int
) -> list[tuple[SigningKey, KeyState]]:
    """Each key with its state: the newest unretired one is ``current``; older unretired ones
    (left by a race of two first starts) are ``active``; retired ones are ``retired`` while
    still published and ``expired`` after."""
    unretired = [k for k in records if k.retired_at is None]
    current = unretired[-1].kid if unretired else None
    states: list[tuple[SigningKey, KeyState]] = []
    for key in records:
        if key.retired_at is None:
            states.append((key, "current" if key.kid == current else "active"))
        else:
            states.append((key, "retired" if policy.is_published(key, now) else "expired"))
    return states


async def rotate_signing_key(
    store: KeyStore, encryption_key: bytes, now: int, alg: str
) -> tuple[SigningKey, list[str]]:
    """Make a new key current and retire every other unretired key; returns (new, retired kids).

    The new key is saved before the old ones are retired, so the store never lacks an
    unretired key for a server that reloads in between.
    """
    earlier = [k for k in await store.list_signing_keys() if k.retired_at is None]
    record = generate_signing_key(encryption_key, now, alg)
    await store.save_signing_key(record)
    retired = [k.kid for k in earlier if await store.retire_signing_key(k.kid, now)]
    return record, retired


class KeyRing:
    """Signs with the newest unretired key; publishes it and every key still in its window."""

    def __init__(
        self,
        store: KeyStore,
        encryption_key: bytes,
        clock: Clock,
        policy: KeyPolicy | None = None,
    ) -> None:
        self._store = store
        self._encryption_key = encryption_key
        self._clock = clock
        self.policy = policy or KeyPolicy()
        self._signer: JwtSigner | None = None
        self._records: list[SigningKey] = []
        self._published: tuple[str, ...] = ()
        self._jwks: dict[str, Any] = {"keys": []}
        self._key_set: KeySet | None = None
        self._recheck_at: int | None = None

    async def load(self) -> None:
        """Read keys from the store, creating the first one if none is unretired."""
        records = await self._store.list_signing_keys()
        if not any(k.retired_at is None for k in records):
            record = generate_signing_key(self._encryption_key, self._clock.now(), self.policy.alg)
            await self._store.save_signing_key(record)
            records = [*records, record]
        self._apply(records)

    async def reload_forever(self) -> None:
        """Reread the store every ``reload_interval`` seconds; a failure is logged, never fatal."""
        while True:
            await asyncio.sleep(self.policy.reload_interval)
            try:
                await self.load()
            except Exception:
                log.exception("reloading signing keys failed; will retry")

    def _apply(self, records: list[SigningKey]) -> None:
        current = [k for k in records if k.retired_at is None][-1]
        if self._signer is None or self._signer.kid != current.kid:
            self._signer = JwtSigner(load_signing_key(current, self._encryption_key))
            log.info("signing with key %s (%s)", current.kid, current.alg)
        self._records = records
        self._publish(self._clock.now())

    def _publish(self, now: int) -> None:
        published = [k for k in self._records if self.policy.is_published(k, now)]
        kids = tuple(k.kid for k in published)
        if kids != self._published:
            self._published = kids
            self._jwks = jwks_document(published)
            self._key_set = None
        ends = [u for k in published if (u := self.policy.published_until(k)) is not None]
        self._recheck_at = min(ends) if ends else None

    def _expire(self) -> None:
        """Drop retired keys whose window has ended, from the records already read."""
        if self._recheck_at is not None and self._clock.now() >= self._recheck_at:
            self._publish(self._clock.now())

    @property
    def kid(self) -> str:
        """The key id new tokens are signed with."""
        if self._signer is None:
            raise RuntimeError("key ring used before load()")
        return self._signer.kid

    @property
    def jwks(self) -> dict[str, Any]:
        """The public JWKS (RFC 7517): the current key and retired keys still in their window."""
        self._expire()
        return self._jwks

    @property
    def key_set(self) -> KeySet:
        """The published keys as a joserfc ``KeySet``, for verifying our own tokens."""
        self._expire()
        if self._key_set is None:
            self._key_set = KeySet.import_key_set(cast(Any, self._jwks))
        return self._key_set

    def sign(self, claims: dict[str, Any]) -> str:
        if self._signer is None:
            raise RuntimeError("key ring used before load()")
        return self._signer.sign(claims)
