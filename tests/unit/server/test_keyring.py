"""The key ring: rotation, the publication window, drop-out, and reloads from the store."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from joserfc import jws
from pydantic import ValidationError

from ostiary.core.clock import FrozenClock
from ostiary.core.models import SigningKey
from ostiary.crypto.jwt import JwtVerificationError, verify_access_token
from ostiary.server.keyring import KeyPolicy, KeyRing, key_states, rotate_signing_key
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.memory import MemoryStorage

ENCRYPTION_KEY = bytes(range(32))
ISSUER = "https://as.example.com"
AUDIENCE = "https://as.example.com/mcp"
TTL = 600
POLICY = KeyPolicy(access_token_ttl=TTL, reload_interval=30, leeway=60)
WINDOW = 30 + TTL + 60  # reload interval + access-token TTL + leeway


class CountingStorage(MemoryStorage):
    """Counts reads of the signing keys, and can fail them."""

    def __init__(self) -> None:
        super().__init__()
        self.key_reads = 0
        self.fail_reads = 0
        self.third_read = asyncio.Event()

    async def list_signing_keys(self) -> list[SigningKey]:
        self.key_reads += 1
        if self.key_reads == 3:
            self.third_read.set()
        if self.fail_reads:
            self.fail_reads -= 1
            raise RuntimeError("database went away")
        return await super().list_signing_keys()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_700_000_000)


@pytest.fixture
def store() -> CountingStorage:
    return CountingStorage()


@pytest.fixture
async def ring(store: CountingStorage, clock: FrozenClock) -> KeyRing:
    ring = KeyRing(store, ENCRYPTION_KEY, clock, POLICY)
    await ring.load()
    return ring


def token(ring: KeyRing, clock: FrozenClock) -> str:
    now = clock.now()
    return ring.sign({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + TTL})


def verify(ring: KeyRing, jwt: str, clock: FrozenClock) -> dict[str, Any]:
    return verify_access_token(jwt, ring.key_set, issuer=ISSUER, audience=AUDIENCE, now=clock.now())


def published(ring: KeyRing) -> set[str]:
    return {k["kid"] for k in ring.jwks["keys"]}


async def rotate(store: MemoryStorage, clock: FrozenClock, alg: str = "ES256") -> SigningKey:
    record, _ = await rotate_signing_key(store, ENCRYPTION_KEY, clock.now(), alg)
    return record


async def test_first_load_creates_one_key_of_the_configured_algorithm(
    store: CountingStorage, clock: FrozenClock
) -> None:
    ring = KeyRing(store, ENCRYPTION_KEY, clock, KeyPolicy(alg="RS256"))
    await ring.load()
    [record] = await store.list_signing_keys()
    assert (record.alg, record.created_at, record.retired_at) == ("RS256", clock.now(), None)
    assert ring.kid == record.kid
    assert published(ring) == {record.kid}
    again = KeyRing(store, ENCRYPTION_KEY, clock, KeyPolicy(alg="ES256"))
    await again.load()  # a second server start reuses the key, whatever it is configured with
    assert again.kid == record.kid
    assert len(await store.list_signing_keys()) == 1


async def test_a_ring_that_is_not_loaded_refuses_to_sign(
    store: CountingStorage, clock: FrozenClock
) -> None:
    ring = KeyRing(store, ENCRYPTION_KEY, clock)
    with pytest.raises(RuntimeError, match="before load"):
        ring.sign({})
    with pytest.raises(RuntimeError, match="before load"):
        _ = ring.kid
    assert ring.jwks == {"keys": []}


async def test_signing_and_publishing_never_read_the_store(
    ring: KeyRing, store: CountingStorage, clock: FrozenClock
) -> None:
    reads = store.key_reads
    for _ in range(5):
        verify(ring, token(ring, clock), clock)
        assert len(published(ring)) == 1
        clock.advance(WINDOW)
    assert store.key_reads == reads


async def test_rotation_is_seen_at_the_next_reload(
    ring: KeyRing, store: CountingStorage, clock: FrozenClock
) -> None:
    old_kid, old_token = ring.kid, token(ring, clock)
    new = await rotate(store, clock, alg="Ed25519")
    assert ring.kid == old_kid  # another process rotated; this ring has not reloaded yet
    assert published(ring) == {old_kid}
    await ring.load()
    assert ring.kid == new.kid
    assert published(ring) == {old_kid, new.kid}
    new_token = token(ring, clock)
    assert verify(ring, new_token, clock)["iss"] == ISSUER
    assert verify(ring, old_token, clock)["iss"] == ISSUER  # the retired key is still published
    assert jws.extract_compact(new_token.encode()).headers()["kid"] == new.kid
    assert jws.extract_compact(old_token.encode()).headers()["kid"] == old_kid


async def test_rotation_retires_every_other_key_and_keeps_one_current(
    store: MemoryStorage, clock: FrozenClock
) -> None:
    first, _ = await rotate_signing_key(store, ENCRYPTION_KEY, clock.now(), "ES256")
    clock.advance(10)
    second, retired = await rotate_signing_key(store, ENCRYPTION_KEY, clock.now(), "RS256")
    assert retired == [first.kid]
    clock.advance(10)
    third, retired = await rotate_signing_key(store, ENCRYPTION_KEY, clock.now(), "EdDSA")
    assert retired == [second.kid]
    assert third.alg == "Ed25519"
    keys = {k.kid: k for k in await store.list_signing_keys()}
    assert keys[first.kid].retired_at == clock.now() - 10
    assert keys[second.kid].retired_at == clock.now()
    assert keys[third.kid].retired_at is None


async def test_a_retired_key_drops_out_when_its_window_ends(
    ring: KeyRing, store: CountingStorage, clock: FrozenClock
) -> None:
    old_kid, old_token = ring.kid, token(ring, clock)
    clock.advance(100)
    rotated_at = clock.now()
    new = await rotate(store, clock)
    await ring.load()
    reads = store.key_reads
    clock.advance(WINDOW - 1)
    assert published(ring) == {old_kid, new.kid}
    clock.advance(1)  # rotated_at + reload interval + TTL + leeway
    assert clock.now() == POLICY.window_end(rotated_at)
    assert published(ring) == {new.kid}
    with pytest.raises(JwtVerificationError, match="invalid token"):
        verify_access_token(
            old_token, ring.key_set, issuer=ISSUER, audience=AUDIENCE, now=0, leeway=0
        )
    assert store.key_reads == reads  # the window ends without a store read
    assert len(await store.list_signing_keys()) == 2  # no longer published, still stored


async def test_the_key_set_is_rebuilt_only_when_the_published_keys_change(
    ring: KeyRing, store: CountingStorage, clock: FrozenClock
) -> None:
    first = ring.key_set
    jwks = ring.jwks
    await ring.load()
    assert ring.key_set is first
    assert ring.jwks is jwks
    await rotate(store, clock)
    await ring.load()
    second = ring.key_set
    assert second is not first
    assert len(second.keys) == 2
    assert ring.key_set is second
    clock.advance(WINDOW)
    assert len(ring.key_set.keys) == 1


async def test_a_ring_sees_a_key_added_by_another_store_user(
    store: CountingStorage, clock: FrozenClock
) -> None:
    server_a = KeyRing(store, ENCRYPTION_KEY, clock, POLICY)
    server_b = KeyRing(store, ENCRYPTION_KEY, clock, POLICY)
    await server_a.load()
    await server_b.load()
    assert server_a.kid == server_b.kid
    new = await rotate(store, clock)  # `ostiary key rotate`, in a third process
    await server_b.load()
    assert server_b.kid == new.kid
    assert server_a.kid != new.kid
    token_b = token(server_b, clock)
    with pytest.raises(JwtVerificationError):
        verify(server_a, token_b, clock)  # server A has not reloaded yet
    await server_a.load()
    assert verify(server_a, token_b, clock)["aud"] == AUDIENCE


async def test_a_store_with_only_retired_keys_gets_a_new_current_one(
    ring: KeyRing, store: CountingStorage, clock: FrozenClock
) -> None:
    old = ring.kid
    assert await store.retire_signing_key(old, clock.now())
    await ring.load()
    assert ring.kid != old
    assert published(ring) == {old, ring.kid}


async def test_reload_forever_picks_up_rotations_and_survives_failures(
    store: CountingStorage, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    ring = KeyRing(store, ENCRYPTION_KEY, clock, KeyPolicy(reload_interval=0))
    await ring.load()
    new = await rotate(store, clock)
    store.fail_reads = 1
    task = asyncio.create_task(ring.reload_forever())
    await asyncio.wait_for(store.third_read.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "reloading signing keys failed" in caplog.text
    assert ring.kid == new.kid


def test_key_states(clock: FrozenClock) -> None:
    now = clock.now()

    def key(kid: str, retired_at: int | None = None) -> SigningKey:
        return SigningKey(kid, "ES256", b"", {}, created_at=0, retired_at=retired_at)

    records = [
        key("expired", retired_at=now - WINDOW),
        key("retired", retired_at=now - WINDOW + 1),
        key("active"),
        key("current"),
    ]
    states = [(k.kid, state) for k, state in key_states(records, POLICY, now)]
    assert states == [(s, s) for s in ("expired", "retired", "active", "current")]
    assert POLICY.published_until(records[1]) == now + 1
    assert POLICY.published_until(records[3]) is None


def test_settings_give_the_policy_and_the_advertised_algorithm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [k for k in os.environ if k.startswith("OSTIARY_")]:
        monkeypatch.delenv(name)
    settings = AuthServerSettings(
        signing_alg="EdDSA",
        access_token_ttl=300,
        key_reload_interval=5,
        key_publication_leeway=0,
    )
    assert settings.key_policy() == KeyPolicy(
        access_token_ttl=300, reload_interval=5, leeway=0, alg="Ed25519"
    )
    assert settings.server_config().signing_alg == "Ed25519"
    assert AuthServerSettings().key_policy() == KeyPolicy()  # ES256, 30 s, 3600 s, 60 s
    for bad in ("HS256", "none"):
        with pytest.raises(ValidationError, match="unsupported signing algorithm"):
            AuthServerSettings(signing_alg=bad)
    with pytest.raises(ValidationError):
        AuthServerSettings(key_reload_interval=0)
