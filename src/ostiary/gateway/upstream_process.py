"""One stdio MCP server process: JSON-RPC messages in on stdin, out on stdout, one per line.

The process gets a small safe environment (``SAFE_ENV``, what the official SDK's stdio client
passes too) plus what the operator configured, never the gateway's own environment: that can
hold database URLs and secrets. Its stderr goes to the gateway's log, line by line, labelled
with the user it belongs to. Lines on stdout that are not JSON objects are logged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger("ostiary.gateway.upstream")

SAFE_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR", "SYSTEMROOT")
MAX_LINE = 64 * 1024 * 1024  # one JSON-RPC message (a whole file's contents, say)
MAX_LOGGED = 2000

OnMessage = Callable[[dict[str, Any]], Awaitable[None]]
OnExit = Callable[["UpstreamProcess", int], Awaitable[None]]


class StartFailed(Exception):
    """The command could not be started (not found, not executable, …)."""


def upstream_env(configured: Mapping[str, str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in SAFE_ENV if name in os.environ}
    env.update(configured)
    return env


class UpstreamProcess:
    """Start with ``start()``; ``on_message`` gets each message, ``on_exit`` the exit code once."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        label: str,
        *,
        on_message: OnMessage,
        on_exit: OnExit,
        cwd: str | None = None,
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.label = label
        self.cwd = cwd
        self._on_message = on_message
        self._on_exit = on_exit
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                limit=MAX_LINE,
                start_new_session=True,  # a Ctrl+C at the gateway's terminal is the gateway's
            )
        except OSError as exc:
            raise StartFailed(f"cannot start {self.command[0]}: {exc.strerror or exc}") from None
        log.info("%s: started %s (pid %s)", self.label, " ".join(self.command), self.pid)
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    async def send(self, message: dict[str, Any]) -> None:
        """Write one message; ``ConnectionError`` when the process is gone."""
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise ConnectionResetError("upstream process is not running")
        process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await process.stdin.drain()

    async def _read_stdout(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        try:
            while line := await process.stdout.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    message = None
                if not isinstance(message, dict):
                    log.warning("%s: not a JSON-RPC message on stdout: %.200r", self.label, line)
                    continue
                await self._on_message(message)
        except (ValueError, asyncio.LimitOverrunError):  # a line beyond MAX_LINE
            log.error("%s: message larger than %d bytes; stopping it", self.label, MAX_LINE)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        code = await process.wait()
        log.log(
            logging.INFO if self.stopping else logging.WARNING,
            "%s: pid %s exited with code %s",
            self.label,
            process.pid,
            code,
        )
        await self._on_exit(self, code)

    async def _read_stderr(self) -> None:
        process = self._process
        assert process is not None and process.stderr is not None
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            while line := await process.stderr.readline():
                text = line.decode("utf-8", "replace").rstrip()
                log.info("%s: %s", self.label, text[:MAX_LOGGED])

    async def stop(self, grace: float = 2.0) -> None:
        """Close stdin (the MCP way to ask a stdio server to exit), then TERM, then KILL."""
        process = self._process
        if process is None:
            return
        self.stopping = True
        if process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            for signal_step in (None, process.terminate, process.kill):
                if signal_step is not None:
                    with contextlib.suppress(ProcessLookupError):
                        signal_step()
                try:
                    await asyncio.wait_for(process.wait(), grace)
                    break
                except TimeoutError:
                    continue
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, grace)
