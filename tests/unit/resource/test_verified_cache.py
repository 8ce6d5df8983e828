"""The verified-token cache keeps no token, is bounded, and can be turned off."""

from __future__ import annotations

from ostiary.resource.tokens import VerifiedToken
from ostiary.resource.verifiers.verified_cache import VerifiedTokenCache

NOW = 1_700_000_000
TOKEN = VerifiedToken("alice", "desktop", frozenset({"tools:read"}), ("https://r/mcp",),
                      "https://as", NOW + 300, "g1")  # fmt: skip


def test_entries_are_keyed_by_a_keyed_hash_never_the_token() -> None:
    cache = VerifiedTokenCache(60, 10, lambda: 0.0)
    key = cache.key("secret-token-value")
    cache.put(key, TOKEN, 300)
    assert cache.get(cache.key("secret-token-value")) == TOKEN
    assert cache.get(cache.key("another-token")) is None
    assert all(isinstance(k, bytes) and b"secret" not in k for k in cache._entries)


def test_bounded_and_can_be_turned_off() -> None:
    cache = VerifiedTokenCache(60, 2, lambda: 0.0)
    for n in range(3):
        cache.put(cache.key(f"t{n}"), TOKEN, 300)
    assert len(cache) <= 2
    off = VerifiedTokenCache(0, 10, lambda: 0.0)
    off.put(off.key("t"), TOKEN, 300)
    assert off.get(off.key("t")) is None
