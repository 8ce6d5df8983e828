"""The registration rate limit: a sliding window per key, with the wait it reports."""

from __future__ import annotations

from ostiary.core.clock import FrozenClock
from ostiary.server.rate_limit import RateLimiter


def test_a_full_window_reports_the_wait_until_its_oldest_event_expires() -> None:
    clock = FrozenClock(1_000)
    limiter = RateLimiter(clock, limit=3, window=100)
    for _ in range(3):
        assert limiter.acquire("10.0.0.1") == 0
        clock.advance(10)
    # events at 1000, 1010, 1020; now 1030: the first leaves the window at 1100
    assert limiter.acquire("10.0.0.1") == 70
    assert limiter.acquire("10.0.0.2") == 0  # another address has its own window
    clock.advance(70)
    assert limiter.acquire("10.0.0.1") == 0
    assert limiter.acquire("10.0.0.1") == 10  # refused attempts are not counted


def test_idle_keys_are_forgotten_beyond_max_keys() -> None:
    clock = FrozenClock(1_000)
    limiter = RateLimiter(clock, limit=1, window=100, max_keys=2)
    limiter.acquire("a")
    limiter.acquire("b")
    clock.advance(100)
    limiter.acquire("c")  # a third key while a and b have gone idle
    assert sorted(limiter._events) == ["c"]
