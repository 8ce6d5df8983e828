"""One upstream stdio process per user: started on first use, stopped when idle, capped.

Users never share a process: each ``(issuer, subject)`` gets its own ``SharedSession``, and with
it its own process, environment and state. At most ``max_processes`` run at once; a user who
would start one more gets ``AtCapacity`` (HTTP 503 at the door) until one stops. A process with
no request in flight for ``idle_timeout`` seconds is stopped; the user's next request starts it
again, transparently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ostiary.gateway.call_audit import CallAudit
from ostiary.gateway.shared_session import AtCapacity, SharedSession
from ostiary.gateway.tool_filter import ToolFilter
from ostiary.gateway.upstream_process import UpstreamProcess, upstream_env
from ostiary.resource.tokens import VerifiedToken

log = logging.getLogger("ostiary.gateway.upstream")  # process lifecycle, with its stderr

Owner = tuple[str, str]
UserName = Callable[[VerifiedToken], Awaitable[str]]


@dataclass(frozen=True)
class StdioCommand:
    """What to run for each user: ``user_env`` (by user name) adds to ``env`` for that user."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    user_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    cwd: str | None = None


async def subject_name(token: VerifiedToken) -> str:
    return token.subject


class UpstreamPool:
    def __init__(
        self,
        command: StdioCommand,
        *,
        max_processes: int = 16,
        idle_timeout: float = 600.0,
        audit: CallAudit | None = None,
        tool_filter: ToolFilter | None = None,
        user_name: UserName = subject_name,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_processes < 1:
            raise ValueError("max_processes must be at least 1")
        self.command = command
        self.max_processes = max_processes
        self.idle_timeout = idle_timeout
        self._audit = audit
        self._tool_filter = tool_filter
        self._user_name = user_name
        self._clock = clock
        self.sessions: dict[Owner, SharedSession] = {}
        self._running: set[Owner] = set()

    def capacity_error(self) -> str:
        return (
            f"the gateway is running its limit of {self.max_processes} upstream processes "
            "(--max-processes); try again when one stops"
        )

    def has_room_for(self, owner: Owner) -> bool:
        return owner in self._running or len(self._running) < self.max_processes

    async def shared_for(self, token: VerifiedToken) -> SharedSession:
        owner = (token.issuer, token.subject)
        shared = self.sessions.get(owner)
        if shared is not None:
            shared.last_active = self._clock()  # not forgotten while its session opens
        else:
            name = await self._user_name(token)
            if owner in self.sessions:  # created by a concurrent first request
                return self.sessions[owner]
            env = {**self.command.env, **self.command.user_env.get(name, {})}
            label = f"upstream[user={name}]"
            shared = SharedSession(
                owner,
                label,
                lambda s: UpstreamProcess(
                    self.command.argv,
                    upstream_env(env),
                    label,
                    on_message=s.on_upstream,
                    on_exit=s.process_exited,
                    cwd=self.command.cwd,
                ),
                reserve=self._reserve,
                release=self._release,
                audit=self._audit,
                tool_filter=self._tool_filter,
                clock=self._clock,
            )
            self.sessions[owner] = shared
        return shared

    def _reserve(self, shared: SharedSession) -> None:
        if not self.has_room_for(shared.owner):
            raise AtCapacity(self.capacity_error())
        self._running.add(shared.owner)

    def _release(self, shared: SharedSession) -> None:
        self._running.discard(shared.owner)

    @property
    def running(self) -> int:
        return len(self._running)

    async def reap_idle(self) -> None:
        """Stop idle processes; forget users with neither a process nor a session."""
        now = self._clock()
        for owner, shared in list(self.sessions.items()):
            if shared.running and not shared.busy and now - shared.last_active > self.idle_timeout:
                log.info("%s: idle for %.0f s, stopping it", shared.label, now - shared.last_active)
                await shared.stop(idle=True)
            forgotten = now - shared.last_active > self.idle_timeout
            if forgotten and not shared.running and not shared.links and shared.process is None:
                self.sessions.pop(owner, None)

    async def run(self) -> None:
        """Reap idle processes until cancelled."""
        interval = max(0.05, min(self.idle_timeout / 4, 5.0))
        while True:
            await asyncio.sleep(interval)
            await self.reap_idle()

    async def close(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.sessions.values()), return_exceptions=True)
