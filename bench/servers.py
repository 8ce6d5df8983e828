"""Server processes for the benchmark: start on a free loopback port, watch, stop.

Memory and CPU are read with psutil on the server's own pid: the ``ostiary`` console script
is the Python interpreter itself (no wrapper process), so its RSS is the server's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
OSTIARY = str(Path(sys.executable).parent / "ostiary")
READY_SECONDS = 30.0
MiB = 1024 * 1024


@contextmanager
def generator(
    module: str, job_file: Path, err_file: Path, max_seconds: float
) -> Iterator[subprocess.Popen[str]]:
    """``python -m module job_file`` (a load generator), stdout piped, stderr to ``err_file``,
    killed if it outlives twice ``max_seconds`` plus a minute; waited for on the way out."""
    with err_file.open("w") as err:
        gen = subprocess.Popen(
            [sys.executable, "-m", module, str(job_file)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
        )
        timer = threading.Timer(2 * max_seconds + 60, gen.kill)  # bounded, whatever happens
        timer.daemon = True
        timer.start()
        try:
            yield gen
        finally:
            timer.cancel()
            gen.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A started server process and everything it printed."""

    name: str
    port: int
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str,
    command: Sequence[str],
    port: int,
    ready: httpx.Request,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``command`` and wait until ``ready`` answers 200 (the process must be listening)."""
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    server = Server(name, port, process)
    threading.Thread(target=_drain, args=(server,), daemon=True).start()
    try:
        _wait_ready(server, ready)
    except BaseException:
        server.stop()
        raise
    return server


def _drain(server: Server) -> None:
    """Keep reading the server's output so its pipe never fills."""
    assert server.process.stdout is not None
    for line in server.process.stdout:
        server.output.append(line)


def _wait_ready(server: Server, ready: httpx.Request) -> None:
    deadline = time.monotonic() + READY_SECONDS
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited early:\n{''.join(server.output)}")
            try:
                if client.send(ready).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not answer in time:\n{''.join(server.output)}")


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far: the whole machine (busy), the server, PostgreSQL's processes."""

    wall: float
    machine_busy: float
    server: float
    postgres: dict[int, float]

    @classmethod
    def take(cls, server: Server) -> CpuSnapshot:
        times = psutil.cpu_times()
        busy = float(sum(times) - times.idle - getattr(times, "iowait", 0.0))
        postgres: dict[int, float] = {}
        for proc in psutil.process_iter(["name", "cpu_times"]):
            info = proc.info
            if info.get("name") in {"postgres", "postmaster"} and info.get("cpu_times"):
                postgres[proc.pid] = float(info["cpu_times"].user + info["cpu_times"].system)
        return cls(time.perf_counter(), busy, server.cpu_seconds(), postgres)


@dataclass(frozen=True)
class CpuUse:
    """Average CPU over an interval, in percent of one core (200% = both cores here)."""

    seconds: float
    machine: float
    server: float
    postgres: float

    @classmethod
    def between(cls, a: CpuSnapshot, b: CpuSnapshot) -> CpuUse:
        wall = b.wall - a.wall
        if wall <= 0:
            return cls(0.0, 0.0, 0.0, 0.0)
        pg = sum(t - a.postgres.get(pid, 0.0) for pid, t in b.postgres.items())

        def pct(x: float) -> float:
            return 100.0 * x / wall

        return cls(wall, pct(b.machine_busy - a.machine_busy), pct(b.server - a.server), pct(pg))


class RssSampler:
    """Samples a process's resident memory in a thread; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._every = every
        self._stop = threading.Event()
        self.peak = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        try:
            self.peak = max(self.peak, int(self._process.memory_info().rss))
            self.samples += 1
        except psutil.Error:
            pass

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._sample()
