"""Login throttling: per address+name and per address, sliding window."""

from __future__ import annotations

from ostiary.core.clock import FrozenClock
from ostiary.server.ui.throttle import LoginThrottle


def test_name_limit_blocks_only_that_pair_and_expires() -> None:
    clock = FrozenClock()
    throttle = LoginThrottle(clock, window=300, per_name=3, per_address=100)
    for _ in range(3):
        assert throttle.allowed("10.0.0.1", "alice")
        throttle.failed("10.0.0.1", "alice")
    assert not throttle.allowed("10.0.0.1", "alice")
    assert not throttle.allowed("10.0.0.1", "ALICE")  # names compare case-insensitively
    assert throttle.allowed("10.0.0.1", "bob")
    assert throttle.allowed("10.0.0.2", "alice")  # nobody can lock alice out from elsewhere
    clock.advance(301)
    assert throttle.allowed("10.0.0.1", "alice")


def test_address_limit_spans_names() -> None:
    clock = FrozenClock()
    throttle = LoginThrottle(clock, window=300, per_name=100, per_address=4)
    for name in ("a", "b", "c", "d"):
        throttle.failed("10.0.0.1", name)
    assert not throttle.allowed("10.0.0.1", "e")
    assert throttle.allowed("10.0.0.9", "e")


def test_success_clears_the_name_counter() -> None:
    clock = FrozenClock()
    throttle = LoginThrottle(clock, window=300, per_name=2, per_address=100)
    throttle.failed("10.0.0.1", "alice")
    throttle.succeeded("10.0.0.1", "alice")
    throttle.failed("10.0.0.1", "alice")
    assert throttle.allowed("10.0.0.1", "alice")
