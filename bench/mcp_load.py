"""Load generator for MCP sessions: ``tools/call`` over streamable HTTP or straight over a pipe.

``python -m bench.mcp_load JOB.json`` speaks the protocol of ``bench.loadgen`` (``phase
measure``, ``phase done``, then one JSON line of results, the same ``summary``) so the
orchestrator (``bench.gateway``) samples CPU between the markers in the same way. What differs
from ``bench.loadgen``'s ``fixed`` scenario is that a client here holds an MCP *session*:

* ``http``: each of the ``concurrency`` virtual clients opens its own keep-alive HTTP/1.1
  connection (the same minimal raw client as ``bench.loadgen``), sends ``initialize`` and
  ``notifications/initialized``, keeps the ``Mcp-Session-Id`` it got, and then sends
  ``tools/call`` after ``tools/call`` in that session (with ``Authorization: Bearer`` when the
  job has a token). At the end it ends its session with ``DELETE``.
* ``stdio``: the generator starts the stdio server itself (``command``), does the handshake
  once, and its ``concurrency`` virtual clients share that one pipe, each with one request in
  flight, answers matched by JSON-RPC id (a minimal JSON-RPC-over-stdin/stdout driver: one
  JSON object per line).

A request counts as successful when it is answered 200 (HTTP) and the JSON-RPC answer holds a
``result`` that is not a tool error; anything else is an error with a sample kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import Connection, Job, Phase, run_on_best_loop, run_phase, summary

PROTOCOL_VERSION = "2025-06-18"
ACCEPT = "application/json, text/event-stream"
MAX_LINE = 16 * 1024 * 1024


@dataclass
class McpJob:
    """What to run; written by the orchestrator as JSON."""

    transport: str  # http | stdio
    concurrency: int
    requests: int
    warmup: int
    max_seconds: float
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/mcp"
    token: str = ""  # http: a bearer token, if any
    command: list[str] = field(default_factory=list)  # stdio: the server to start

    @classmethod
    def load(cls, path: Path) -> McpJob:
        return cls(**json.loads(path.read_text()))

    def as_loadgen_job(self) -> Job:
        """The fields ``bench.loadgen.summary`` reads."""
        return Job(
            host=self.host,
            port=self.port,
            path=self.path,
            scenario=f"mcp-{self.transport}",
            concurrency=self.concurrency,
            requests=self.requests,
            warmup=self.warmup,
            max_seconds=self.max_seconds,
        )


def initialize_request(request_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "bench.mcp_load", "version": "1"},
        },
    }


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call_body(request_id: int) -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":%d,"method":"tools/call",'
        b'"params":{"name":"echo","arguments":{"text":"hello"}}}' % request_id
    )


def answered_ok(content: bytes) -> bool:
    """A JSON-RPC result that is not a tool error (JSON, or one SSE ``data:`` event)."""
    return b'"result"' in content and b'"isError":true' not in content


# --- HTTP -------------------------------------------------------------------------------


class SessionConnection:
    """One keep-alive HTTP/1.1 connection holding one MCP session."""

    def __init__(self, job: McpJob) -> None:
        self._job = job
        self._auth = f"Authorization: Bearer {job.token}\r\n" if job.token else ""
        self._session = ""
        self._version = PROTOCOL_VERSION
        self._ids = itertools.count(1)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def _head(self, method: str, length: int) -> bytes:
        job = self._job
        session = f"Mcp-Session-Id: {self._session}\r\n" if self._session else ""
        version = f"MCP-Protocol-Version: {self._version}\r\n" if self._session else ""
        return (
            f"{method} {job.path} HTTP/1.1\r\nHost: {job.host}:{job.port}\r\n"
            f"Content-Type: application/json\r\nAccept: {ACCEPT}\r\n{self._auth}{session}"
            f"{version}Content-Length: {length}\r\n\r\n"
        ).encode()

    async def _exchange(self, method: str, body: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._job.host, self._job.port
            )
        reader, writer = self._reader, self._writer
        writer.write(self._head(method, len(body)) + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers: dict[bytes, bytes] = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            content = await _read_chunked(reader)
        elif b"content-length" in headers:
            content = await reader.readexactly(int(headers[b"content-length"]))
        else:
            content = await reader.read()
            headers[b"connection"] = b"close"
        if b"close" in headers.get(b"connection", b"").lower():
            await self.close()
        return status, headers, content

    async def open_session(self) -> None:
        body = json.dumps(initialize_request(next(self._ids))).encode()
        status, headers, content = await self._exchange("POST", body)
        if status != 200 or not answered_ok(content):
            raise RuntimeError(f"initialize: {status} {content[:300]!r}")
        self._session = headers.get(b"mcp-session-id", b"").decode("latin-1")
        if not self._session:
            raise RuntimeError("initialize: no Mcp-Session-Id in the answer")
        result = json.loads(_json_part(content))["result"]
        self._version = str(result.get("protocolVersion", PROTOCOL_VERSION))
        status, _, content = await self._exchange("POST", json.dumps(INITIALIZED).encode())
        if status not in (200, 202):
            raise RuntimeError(f"notifications/initialized: {status} {content[:300]!r}")

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            status, _, content = await self._exchange("POST", call_body(next(self._ids)))
        except BaseException:
            await self.close()
            raise
        if status == 200 and not answered_ok(content):
            return 599, content  # a JSON-RPC error (or tool error) inside a 200
        return status, content

    async def end_session(self) -> None:
        if self._session:
            with contextlib.suppress(OSError, ValueError, asyncio.IncompleteReadError):
                await self._exchange("DELETE", b"")
            self._session = ""

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _json_part(content: bytes) -> bytes:
    """The JSON of an answer: the body itself, or the ``data:`` line of an SSE event."""
    for line in content.split(b"\n"):
        if line.startswith(b"data:"):
            return line[5:]
    return content


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --- stdio ------------------------------------------------------------------------------


class PipeDriver:
    """A stdio MCP server started by the generator; answers matched to requests by id."""

    def __init__(self, command: list[str]) -> None:
        self._command = command
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(1)
        self._reader_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=MAX_LINE,
        )
        self._reader_task = asyncio.create_task(self._read())
        answer = await self.request(json.dumps(initialize_request(next(self._ids))).encode())
        if not answered_ok(answer):
            raise RuntimeError(f"initialize: {answer[:300]!r}")
        self._write(json.dumps(INITIALIZED).encode())

    def _write(self, line: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(line + b"\n")

    async def request(self, body: bytes) -> bytes:
        """``body`` must carry the id that is next in ``_ids`` minus one (see ``call``)."""
        request_id = int(json.loads(body)["id"])
        return await self._send(request_id, body)

    async def call(self) -> bytes:
        request_id = next(self._ids)
        return await self._send(request_id, call_body(request_id))

    async def _send(self, request_id: int, body: bytes) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._write(body)
        assert self._process is not None and self._process.stdin is not None
        await self._process.stdin.drain()
        return await future

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        while line := await stdout.readline():
            start = line.find(b'"id":')
            if start < 0:
                continue  # a notification
            end = start + 5
            while end < len(line) and line[end : end + 1].isdigit():
                end += 1
            future = self._waiting.pop(int(line[start + 5 : end] or b"0"), None)
            if future is not None and not future.done():
                future.set_result(line)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(EOFError("the stdio server exited"))

    async def close(self) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader_task is not None:
            with contextlib.suppress(Exception):
                await self._reader_task


class PipeClient:
    """A virtual client of the shared pipe: one request in flight at a time."""

    def __init__(self, driver: PipeDriver) -> None:
        self._driver = driver

    async def post(self, body: bytes) -> tuple[int, bytes]:
        answer = await self._driver.call()
        return (200 if answered_ok(answer) else 599), answer

    async def close(self) -> None:
        return None


# --- running ----------------------------------------------------------------------------


class CallWork:
    """The body is built by the connection (it numbers its own requests)."""

    def next_body(self, worker: int) -> bytes | None:
        return b""

    def answered(self, worker: int, status: int, body: bytes) -> None:
        return None


async def run(job: McpJob) -> dict[str, Any]:
    work = CallWork()
    driver: PipeDriver | None = None
    sessions: list[SessionConnection] = []
    conns: list[Connection]
    if job.transport == "stdio":
        driver = PipeDriver(job.command)
        await driver.start()
        print(f"upstream pid {driver.pid}", flush=True)
        conns = [PipeClient(driver) for _ in range(job.concurrency)]
    else:
        sessions = [SessionConnection(job) for _ in range(job.concurrency)]
        await asyncio.gather(*(s.open_session() for s in sessions))
        conns = list(sessions)
    try:
        if job.warmup:
            warm = await run_phase(conns, work, job.warmup, job.max_seconds)
            if warm.error_sample:
                print(f"warmup error: {warm.error_sample}", file=sys.stderr)
        print("phase measure", flush=True)
        measured: Phase = await run_phase(conns, work, job.requests, job.max_seconds)
        print("phase done", flush=True)
    finally:
        for session in sessions:
            await session.end_session()
            await session.close()
        if driver is not None:
            await driver.close()
    result = summary(measured, work, job.as_loadgen_job())
    result.pop("chains", None)
    return {**result, "job": {k: v for k, v in asdict(job).items() if k != "token"}}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m bench.mcp_load JOB.json")
    result = run_on_best_loop(run(McpJob.load(Path(args[0]))))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
