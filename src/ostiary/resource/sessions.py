"""Which user opened each MCP session (SEC-10, REQ-RS-17), in a bounded map.

A session id is never a credential: every request still carries a token, and a session id is
honoured only with a token for the same ``(issuer, subject)`` that opened it. Another user's
token, or an id this map does not hold (never issued, ended, or evicted as the oldest when the
map is full), is answered 404 like an unknown session, revealing nothing about other users.
"""

from __future__ import annotations

from collections import OrderedDict

Owner = tuple[str, str]  # (issuer, subject)
DEFAULT_LIMIT = 10_000


class SessionOwners:
    """Session id → owner; least recently used ids are forgotten beyond ``limit``."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._owners: OrderedDict[str, Owner] = OrderedDict()
        self._limit = limit

    def __len__(self) -> int:
        return len(self._owners)

    def bind(self, session_id: str, owner: Owner) -> None:
        """Record the opener; an id already bound keeps its first owner."""
        if session_id in self._owners:
            return
        self._owners[session_id] = owner
        while len(self._owners) > self._limit:
            self._owners.popitem(last=False)

    def owned_by(self, session_id: str, owner: Owner) -> bool:
        if self._owners.get(session_id) != owner:
            return False
        self._owners.move_to_end(session_id)
        return True

    def forget(self, session_id: str) -> None:
        self._owners.pop(session_id, None)
