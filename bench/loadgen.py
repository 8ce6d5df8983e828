"""The load generator: its own process, driven by a JSON job file, answering with JSON.

``python -m bench.loadgen JOB.json`` opens ``concurrency`` keep-alive connections (one
asyncio task, one "virtual client", each), runs an unmeasured warmup of ``warmup`` requests,
prints ``phase measure``, runs the measured phase of ``requests`` requests (or until
``max_seconds`` pass, whichever comes first), prints ``phase done`` and finally one JSON
line with the results. Both phases are bounded, so it always stops by itself.

Two generators:

* ``raw`` (default): hand-written HTTP/1.1 over asyncio streams on uvloop. It parses only
  what it needs (status, ``Content-Length``, chunked bodies, ``Connection: close``) and so
  costs the CPU it shares with the server far less than a full client does.
* ``httpx``: one ``httpx.AsyncClient`` with ``max_connections=concurrency``, for comparison.

Scenarios (the form bodies are what a real public MCP client sends):

* ``floor``: the same fixed body every time.
* ``refresh``: each virtual client holds its own refresh-token chain and always presents the
  newest token (rotation). A non-200 answer keeps the old token (a retry within the grace
  window would return the same successor); after ``STALL_AFTER`` consecutive failures the
  virtual client gives up and is counted as stalled.
* ``fixed``: ``body`` every time, with ``content_type``, ``accept`` and ``headers`` (the MCP
  benchmark, ``bench.mcp_endpoint``: a JSON-RPC ``tools/call`` with a bearer token).
* ``code``: each request redeems the next unused authorization code with its PKCE verifier.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

FORM = "application/x-www-form-urlencoded"
STALL_AFTER = 5
SAMPLE_CHARS = 300


@dataclass
class Job:
    """What to run; written by the orchestrator as JSON."""

    host: str
    port: int
    path: str
    scenario: str  # floor | fixed | refresh | code
    concurrency: int
    requests: int
    warmup: int
    max_seconds: float
    generator: str = "raw"  # raw | httpx
    client_id: str = ""
    resource: str = ""
    redirect_uri: str = ""
    chains: list[str] = field(default_factory=list)  # refresh: one token per virtual client
    codes: list[list[str]] = field(default_factory=list)  # code: [code, verifier] pairs
    body: str = ""  # fixed: the body sent every time
    content_type: str = FORM
    accept: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)  # more request headers

    @classmethod
    def load(cls, path: Path) -> Job:
        return cls(**json.loads(path.read_text()))


# --- what to send ---------------------------------------------------------------------


class Work(Protocol):
    def next_body(self, worker: int) -> bytes | None:
        """The next request body for ``worker``, or None when it has nothing left to send."""

    def answered(self, worker: int, status: int, body: bytes) -> None:
        """Learn from the response (a refresh chain moves on only on 200)."""


class FloorWork:
    def __init__(self, job: Job) -> None:
        self._body = urlencode(
            {"grant_type": "refresh_token", "refresh_token": "x" * 43, "client_id": job.client_id}
        ).encode()

    def next_body(self, worker: int) -> bytes | None:
        return self._body

    def answered(self, worker: int, status: int, body: bytes) -> None:
        return None


class FixedWork:
    """``job.body`` every time (the MCP benchmark's ``tools/call``)."""

    def __init__(self, job: Job) -> None:
        self._body = job.body.encode()

    def next_body(self, worker: int) -> bytes | None:
        return self._body

    def answered(self, worker: int, status: int, body: bytes) -> None:
        return None


class RefreshWork:
    def __init__(self, job: Job) -> None:
        if len(job.chains) < job.concurrency:
            raise SystemExit("refresh: need one refresh token per virtual client")
        self._job = job
        self.tokens = list(job.chains)
        self._failures = [0] * len(self.tokens)
        self.stalled = 0

    def next_body(self, worker: int) -> bytes | None:
        if self._failures[worker] >= STALL_AFTER:
            return None
        return urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": self.tokens[worker],
                "client_id": self._job.client_id,
                "resource": self._job.resource,
            }
        ).encode()

    def answered(self, worker: int, status: int, body: bytes) -> None:
        if status == 200:
            self.tokens[worker] = json.loads(body)["refresh_token"]
            self._failures[worker] = 0
            return
        self._failures[worker] += 1
        if self._failures[worker] == STALL_AFTER:
            self.stalled += 1


class CodeWork:
    def __init__(self, job: Job) -> None:
        self._job = job
        self._codes: Iterator[list[str]] = iter(job.codes)
        self.left = len(job.codes)

    def next_body(self, worker: int) -> bytes | None:
        pair = next(self._codes, None)
        if pair is None:
            return None
        self.left -= 1
        code, verifier = pair
        return urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self._job.redirect_uri,
                "code_verifier": verifier,
                "client_id": self._job.client_id,
                "resource": self._job.resource,
            }
        ).encode()

    def answered(self, worker: int, status: int, body: bytes) -> None:
        return None


# --- how to send it -------------------------------------------------------------------


class Connection(Protocol):
    async def post(self, body: bytes) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


class RawConnection:
    """One HTTP/1.1 keep-alive connection; reconnects after a close or a failure."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        *,
        content_type: str = FORM,
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self._host, self._port = host, port
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
            f"Accept: {accept}\r\n{extra}Content-Length: "
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            return await self._exchange(body)
        except BaseException:
            await self.close()
            raise

    async def _exchange(self, body: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        writer.write(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length: int | None = None
        chunked = close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            content = await _read_chunked(reader)
        elif length is not None:
            content = await reader.readexactly(length)
        else:
            content, close = await reader.read(), True
        if close:
            await self.close()
        return status, content

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are expected
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class HttpxConnection:
    """A virtual client sharing one ``httpx.AsyncClient`` (its pool holds the connections)."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
    ) -> None:
        self._client, self._url = client, url
        self._headers = headers or {"content-type": FORM, "accept": "application/json"}

    async def post(self, body: bytes) -> tuple[int, bytes]:
        response = await self._client.post(self._url, content=body, headers=self._headers)
        return response.status_code, response.content

    async def close(self) -> None:
        return None


# --- running ---------------------------------------------------------------------------


@dataclass
class Phase:
    """What one phase saw."""

    latencies_ms: list[float] = field(default_factory=list)  # successful requests only
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no HTTP answer
    error_sample: str = ""
    elapsed: float = 0.0
    cpu_seconds: float = 0.0

    def failed(self, status: int, detail: str) -> None:
        self.statuses[status] += 1
        if not self.error_sample:
            self.error_sample = f"{status}: {detail}"[:SAMPLE_CHARS]


async def run_phase(conns: list[Connection], work: Work, budget: int, max_seconds: float) -> Phase:
    phase = Phase()
    left = budget
    deadline = time.monotonic() + max_seconds

    async def worker(index: int, conn: Connection) -> None:
        nonlocal left
        while left > 0 and time.monotonic() < deadline:
            body = work.next_body(index)
            if body is None:
                return
            left -= 1
            start = time.perf_counter()
            try:
                status, content = await conn.post(body)
            except (
                OSError,
                EOFError,
                ValueError,
                asyncio.IncompleteReadError,
                httpx.HTTPError,
            ) as exc:
                phase.failed(0, f"{type(exc).__name__}: {exc}")
                continue
            if status == 200:
                phase.latencies_ms.append((time.perf_counter() - start) * 1000.0)
                phase.statuses[200] += 1
            else:
                phase.failed(status, content.decode(errors="replace"))
            work.answered(index, status, content)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
    phase.elapsed = time.perf_counter() - wall0
    phase.cpu_seconds = time.process_time() - cpu0
    return phase


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(phase: Phase, work: Work, job: Job) -> dict[str, Any]:
    lat = sorted(phase.latencies_ms)
    ok = phase.statuses.get(200, 0)
    return {
        "scenario": job.scenario,
        "generator": job.generator,
        "concurrency": job.concurrency,
        "requests": sum(phase.statuses.values()),
        "ok": ok,
        "errors": sum(n for s, n in phase.statuses.items() if s != 200),
        "statuses": {str(s): n for s, n in sorted(phase.statuses.items())},
        "error_sample": phase.error_sample,
        "elapsed_s": phase.elapsed,
        "ok_per_s": ok / phase.elapsed if phase.elapsed > 0 else 0.0,
        "p50_ms": percentile(lat, 50),
        "p90_ms": percentile(lat, 90),
        "p99_ms": percentile(lat, 99),
        "max_ms": lat[-1] if lat else 0.0,
        "loadgen_cpu_s": phase.cpu_seconds,
        "stalled_clients": getattr(work, "stalled", 0),
        "chains": getattr(work, "tokens", []),  # the newest refresh tokens, for a next run
    }


def make_work(job: Job) -> Work:
    kinds: dict[str, Callable[[Job], Work]] = {
        "floor": FloorWork,
        "fixed": FixedWork,
        "refresh": RefreshWork,
        "code": CodeWork,
    }
    return kinds[job.scenario](job)


async def run(job: Job) -> dict[str, Any]:
    work = make_work(job)
    client: httpx.AsyncClient | None = None
    conns: list[Connection]
    if job.generator == "httpx":
        client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=job.concurrency, max_keepalive_connections=job.concurrency
            ),
            timeout=30.0,
        )
        url = f"http://{job.host}:{job.port}{job.path}"
        headers = {"content-type": job.content_type, "accept": job.accept, **job.headers}
        conns = [HttpxConnection(client, url, headers) for _ in range(job.concurrency)]
    else:
        conns = [
            RawConnection(
                job.host,
                job.port,
                job.path,
                content_type=job.content_type,
                accept=job.accept,
                headers=job.headers,
            )
            for _ in range(job.concurrency)
        ]
    try:
        if job.warmup:
            warm = await run_phase(conns, work, job.warmup, job.max_seconds)
            if warm.error_sample:
                print(f"warmup error: {warm.error_sample}", file=sys.stderr)
        print("phase measure", flush=True)
        measured = await run_phase(conns, work, job.requests, job.max_seconds)
        print("phase done", flush=True)
    finally:
        for conn in conns:
            await conn.close()
        if client is not None:
            await client.aclose()
    return summary(measured, work, job)


def run_on_best_loop(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m bench.loadgen JOB.json")
    result = run_on_best_loop(run(Job.load(Path(args[0]))))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
