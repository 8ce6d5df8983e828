"""A per-key sliding-window limit, in memory and per process (used for client registration).

Enough to stop one address from registering clients in bulk; several server processes each
keep their own window, so the effective limit is per process.
"""

from __future__ import annotations

from collections import deque

from ostiary.core.clock import Clock


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(
        self, clock: Clock, *, limit: int, window: int = 3600, max_keys: int = 10_000
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._events: dict[str, deque[int]] = {}

    def _recent(self, key: str, now: int) -> deque[int]:
        entries = self._events.setdefault(key, deque())
        while entries and entries[0] <= now - self._window:
            entries.popleft()
        return entries

    def acquire(self, key: str) -> int:
        """Count one event and return 0, or return the seconds until the next one is allowed."""
        now = self._clock.now()
        entries = self._recent(key, now)
        if len(entries) >= self._limit:
            return entries[0] + self._window - now
        entries.append(now)
        if len(self._events) > self._max_keys:  # forget idle keys so memory stays bounded
            for idle in [k for k, v in self._events.items() if not self._recent(k, now)]:
                del self._events[idle]
        return 0
