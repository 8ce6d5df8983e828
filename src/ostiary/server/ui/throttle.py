"""Slows password guessing: failed sign-ins are counted per address and per address+name.

In memory and per process: enough to stop a single client from guessing at full speed,
without letting anyone lock a user out from elsewhere (the name alone is never the key).
"""

from __future__ import annotations

from collections import deque

from ostiary.core.clock import Clock


class LoginThrottle:
    """A sliding window of failures; ``allowed`` is False once a window is full."""

    def __init__(
        self, clock: Clock, *, window: int = 300, per_name: int = 5, per_address: int = 30
    ) -> None:
        self._clock = clock
        self._window = window
        self._limits = {"name": per_name, "address": per_address}
        self._failures: dict[tuple[str, ...], deque[int]] = {}

    def _keys(self, address: str, username: str) -> dict[str, tuple[str, ...]]:
        return {"name": (address, username.lower()), "address": (address,)}

    def _recent(self, key: tuple[str, ...]) -> deque[int]:
        entries = self._failures.setdefault(key, deque())
        cutoff = self._clock.now() - self._window
        while entries and entries[0] <= cutoff:
            entries.popleft()
        return entries

    def allowed(self, address: str, username: str) -> bool:
        keys = self._keys(address, username)
        return all(len(self._recent(k)) < self._limits[kind] for kind, k in keys.items())

    def failed(self, address: str, username: str) -> None:
        for key in self._keys(address, username).values():
            self._recent(key).append(self._clock.now())
        if len(self._failures) > 10_000:  # forget idle keys so memory stays bounded
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]

    def succeeded(self, address: str, username: str) -> None:
        self._failures.pop(self._keys(address, username)["name"], None)
