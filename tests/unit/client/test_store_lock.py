"""``lock(name)`` across real processes: one at a time, and waiting never blocks the event loop.

Each holder is a separate Python process running ``HOLDER``: it notes ``waiting``, takes the
lock, notes ``acquired``, holds it until the test creates its release file, notes ``releasing``
and lets go. Order is asserted from the shared log (line order and ``time.time()`` stamps), never
from how fast anything ran.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest

import ostiary
from ostiary.client.file_store import FileStore

LOCK = "login:https://mcp.example.com/mcp"
DEADLINE = 30.0

HOLDER = """
import asyncio, sys, time
from pathlib import Path
from ostiary.client.file_store import FileStore
from ostiary.client.keyring_store import KeyringStore

async def main(kind: str, folder: str, log: str, release: str, who: str, name: str) -> None:
    root = Path(folder)
    store = FileStore(root) if kind == "file" else KeyringStore(lock_folder=root / "locks")

    def note(event: str) -> None:
        with open(log, "a") as file:
            file.write(f"{who} {event} {time.time()!r}\\n")

    note("waiting")
    async with store.lock(name):
        note("acquired")
        while not Path(release).exists():
            await asyncio.sleep(0.02)
        note("releasing")

asyncio.run(main(*sys.argv[1:]))
"""


def read_log(log: Path) -> list[tuple[str, float]]:
    if not log.exists():
        return []
    entries = [line.rsplit(" ", 1) for line in log.read_text().splitlines()]
    return [(event, float(stamp)) for event, stamp in entries]


def events(log: Path) -> list[str]:
    return [event for event, _ in read_log(log)]


async def wait_for_event(log: Path, event: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while event not in events(log):
        assert time.monotonic() < deadline, f"no {event!r} in {events(log)}"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def holder(
    tmp_path: Path, who: str, kind: str = "file"
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A holder process; on the way out it is released and must have exited cleanly."""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    source = str(Path(ostiary.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        kind,
        str(tmp_path / "client"),
        str(tmp_path / "log"),
        str(tmp_path / f"release-{who}"),
        who,
        LOCK,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
        (tmp_path / f"release-{who}").touch()
        _, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@pytest.mark.parametrize(
    "second_kind",
    [
        pytest.param("file", id="file-store-and-file-store"),
        pytest.param("keyring", id="file-store-and-keyring-store-share-the-lock"),
    ],
)
async def test_a_second_process_waits_until_the_first_releases(
    tmp_path: Path, second_kind: str
) -> None:
    log = tmp_path / "log"
    async with holder(tmp_path, "A"):
        await wait_for_event(log, "A acquired")
        async with holder(tmp_path, "B", second_kind):
            await wait_for_event(log, "B waiting")
            await asyncio.sleep(0.5)  # B has had time to try; it must still be outside
            assert "B acquired" not in events(log)
            (tmp_path / "release-B").touch()  # B lets go as soon as it gets in
            (tmp_path / "release-A").touch()
            await wait_for_event(log, "B releasing")

    assert events(log) == [
        "A waiting",
        "A acquired",
        "B waiting",
        "A releasing",
        "B acquired",
        "B releasing",
    ]
    stamps = dict(read_log(log))
    assert stamps["A releasing"] <= stamps["B acquired"]


async def test_waiting_for_another_process_keeps_the_event_loop_running(tmp_path: Path) -> None:
    log = tmp_path / "log"
    store = FileStore(tmp_path / "client")
    ticks = 0
    acquired_at: list[float] = []

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def take() -> None:
        async with store.lock(LOCK):
            acquired_at.append(time.time())

    async with holder(tmp_path, "A"):
        await wait_for_event(log, "A acquired")
        ticker = asyncio.create_task(tick())
        waiter = asyncio.create_task(take())
        deadline = time.monotonic() + DEADLINE
        while ticks < 20:  # the other task progresses while ``take`` waits for the lock
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert not waiter.done()
        ticks_while_waiting = ticks
        (tmp_path / "release-A").touch()
        await asyncio.wait_for(waiter, DEADLINE)
        ticker.cancel()
        with suppress(asyncio.CancelledError):
            await ticker

    assert ticks_while_waiting >= 20
    assert dict(read_log(log))["A releasing"] <= acquired_at[0]


async def test_different_names_do_not_wait_for_each_other(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "client")
    async with holder(tmp_path, "A"):
        await wait_for_event(tmp_path / "log", "A acquired")
        async with asyncio.timeout(DEADLINE), store.lock("login:https://other.example.com/mcp"):
            assert "A releasing" not in events(tmp_path / "log")
