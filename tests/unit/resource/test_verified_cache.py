"""The verified-token cache keeps no token, is bounded, and can be turned off."""

from __future__ import annotations

from ostiary.core.clock import FrozenClock
from ostiary.resource.tokens import VerifiedToken
from ostiary.resource.verifiers.verified_cache import VerifiedTokenCache

NOW = 1_700_000_000
TOKEN = VerifiedToken("alice", "desktop", frozenset({"tools:read"}), ("https://r/mcp",),
                      "https://as", NOW + 300, "g1")  # fmt: skip


def test_entries_are_keyed_by_a_keyed_hash_never_the_token() -> None:
    cache = VerifiedTokenCache(FrozenClock(NOW), leeway=30, timer=lambda: 0.0)
    cache.put("secret-token-value", TOKEN)
    assert cache.get("secret-token-value") == TOKEN
    assert cache.get("another-token") is None
    assert all(isinstance(k, bytes) and b"secret" not in k for k in cache._entries)


def test_bounded_and_can_be_turned_off() -> None:
    cache = VerifiedTokenCache(FrozenClock(NOW), leeway=30, size=2, timer=lambda: 0.0)
    for n in range(3):
        cache.put(f"t{n}", TOKEN)
    assert len(cache._entries) <= 2
    off = VerifiedTokenCache(FrozenClock(NOW), leeway=30, ttl=0)
    off.put("t", TOKEN)
    assert off.get("t") is None
