"""``LocalVerifier`` over a real ``KeyRing`` and ``MemoryStorage``, with frozen clocks."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from joserfc.jwk import KeySet

from ostiary.core.clock import FrozenClock
from ostiary.core.models import ClientId, Grant, GrantId, UserId
from ostiary.resource.tokens import InvalidToken
from ostiary.resource.verifiers import LocalVerifier
from ostiary.server.keyring import KeyPolicy, KeyRing, rotate_signing_key
from ostiary.storage.memory import MemoryStorage

from .verifier_support import ISSUER, NOW, OTHER_RESOURCE, RESOURCE, Signer, claims

KEY = secrets.token_bytes(32)


class Timer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Setup:
    def __init__(self, storage: MemoryStorage, ring: KeyRing, clock: FrozenClock) -> None:
        self.storage, self.ring, self.clock, self.timer = storage, ring, clock, Timer()
        self.verifier = LocalVerifier(
            ring, storage, issuer=ISSUER, resource=RESOURCE, clock=clock, timer=self.timer
        )


@pytest.fixture
async def setup() -> Setup:
    storage, clock = MemoryStorage(), FrozenClock(NOW)
    ring = KeyRing(storage, KEY, clock, KeyPolicy(access_token_ttl=300))
    await ring.load()
    grant = Grant(
        GrantId("grant-1"), UserId("alice"), ClientId("desktop"), frozenset(), RESOURCE, NOW
    )
    await storage.save_grant(grant)
    return Setup(storage, ring, clock)


async def test_a_live_grant_verifies(setup: Setup) -> None:
    verified = await setup.verifier.verify(setup.ring.sign(claims()))
    assert (verified.subject, verified.client_id, verified.grant_id) == (
        "alice",
        "desktop",
        "grant-1",
    )


async def test_a_revoked_grant_fails_once_the_half_second_cache_ends(setup: Setup) -> None:
    token = setup.ring.sign(claims())
    await setup.verifier.verify(token)
    await setup.storage.revoke_grant(GrantId("grant-1"), NOW)
    setup.timer.now += 0.4
    assert (await setup.verifier.verify(token)).grant_id == "grant-1"  # still within 0.5 s
    setup.timer.now += 0.1
    with pytest.raises(InvalidToken, match="revoked"):
        await setup.verifier.verify(token)


async def test_with_no_cache_a_revocation_is_seen_on_the_next_request(setup: Setup) -> None:
    verifier = LocalVerifier(
        setup.ring, setup.storage, issuer=ISSUER, resource=RESOURCE, clock=setup.clock, grant_ttl=0
    )
    token = setup.ring.sign(claims())
    await verifier.verify(token)
    await setup.storage.revoke_grant(GrantId("grant-1"), NOW)
    with pytest.raises(InvalidToken, match="revoked"):
        await verifier.verify(token)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"gid": "no-such-grant"}, id="unknown-grant"),
        pytest.param({"gid": None}, id="no-gid"),
        pytest.param({"client_id": "intruder"}, id="grant-of-another-client"),
    ],
)
async def test_a_token_whose_grant_does_not_hold_is_refused(
    setup: Setup, changes: dict[str, object]
) -> None:
    with pytest.raises(InvalidToken, match=r"revoked|grant"):
        await setup.verifier.verify(setup.ring.sign(claims(**changes)))


async def test_other_resource_other_key_and_expiry_are_refused(setup: Setup) -> None:
    with pytest.raises(InvalidToken, match="audience"):
        await setup.verifier.verify(setup.ring.sign(claims(aud=OTHER_RESOURCE)))
    with pytest.raises(InvalidToken, match="signature"):
        await setup.verifier.verify(Signer(setup.ring.kid).sign())
    token = setup.ring.sign(claims())
    setup.clock.advance(300 + 30)
    with pytest.raises(InvalidToken, match="expired"):
        await setup.verifier.verify(token)


async def test_a_retired_but_published_key_still_verifies(setup: Setup) -> None:
    token = setup.ring.sign(claims())
    old = setup.ring.kid
    await rotate_signing_key(setup.storage, KEY, NOW, "ES256")
    await setup.ring.load()
    assert setup.ring.kid != old
    assert (await setup.verifier.verify(token)).subject == "alice"


async def test_the_grant_cache_is_bounded(setup: Setup) -> None:
    verifier = LocalVerifier(
        setup.ring,
        setup.storage,
        issuer=ISSUER,
        resource=RESOURCE,
        clock=setup.clock,
        cache_size=2,
        timer=setup.timer,
    )
    for n in range(3):
        gid = f"g{n}"
        grant = await setup.storage.get_grant(GrantId("grant-1"))
        assert grant is not None
        await setup.storage.save_grant(replace(grant, grant_id=GrantId(gid)))
        await verifier.verify(setup.ring.sign(claims(gid=gid)))
    await setup.storage.revoke_grant(GrantId("g0"), NOW)  # g0 was evicted: read again
    with pytest.raises(InvalidToken, match="revoked"):
        await verifier.verify(setup.ring.sign(claims(gid="g0")))


class SwappableKeys:
    """The key ring's published keys, replaceable mid-test."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring, self.empty = ring, False

    @property
    def key_set(self) -> KeySet:
        return KeySet([]) if self.empty else self.ring.key_set


async def test_a_verified_signature_is_remembered_but_the_grant_is_asked_each_time(
    setup: Setup,
) -> None:
    keys = SwappableKeys(setup.ring)
    verifier = LocalVerifier(
        keys, setup.storage, issuer=ISSUER, resource=RESOURCE, clock=setup.clock,
        timer=setup.timer, grant_ttl=0,
    )  # fmt: skip
    token = setup.ring.sign(claims())
    await verifier.verify(token)
    keys.empty = True  # a fresh verification would now fail
    assert (await verifier.verify(token)).subject == "alice"  # served from the cache
    await setup.storage.revoke_grant(GrantId("grant-1"), NOW)
    with pytest.raises(InvalidToken, match="revoked"):  # revocation still seen at once
        await verifier.verify(token)


async def test_the_signature_cache_ends_after_its_ttl_and_at_expiry(setup: Setup) -> None:
    keys = SwappableKeys(setup.ring)
    verifier = LocalVerifier(
        keys, setup.storage, issuer=ISSUER, resource=RESOURCE, clock=setup.clock,
        timer=setup.timer, verified_ttl=60,
    )  # fmt: skip
    token = setup.ring.sign(claims())
    await verifier.verify(token)
    keys.empty = True
    setup.timer.now += 60
    with pytest.raises(InvalidToken):
        await verifier.verify(token)  # the entry ended: verified afresh, and now fails
    keys.empty = False
    await verifier.verify(token)
    setup.clock.advance(300 + 30)  # past exp + leeway: never served from the cache
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)
