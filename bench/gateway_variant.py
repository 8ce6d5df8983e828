"""Experiments only: the real ``ostiary gateway`` with proposed changes applied at start.

``python -m bench.gateway_variant gateway ...`` runs the unchanged CLI after applying the
changes named in ``OSTIARY_BENCH_PATCHES`` (comma-separated), so ``bench.gateway --patch ...``
can measure a proposed change before anyone makes it:

* ``rawhop``: ``HttpGateway``'s upstream hop goes through a minimal keep-alive HTTP/1.1 pool
  (an ``httpx2.AsyncBaseTransport`` over asyncio streams, a stack of idle connections) instead
  of httpcore's pool, whose every request scans every connection and polls each idle socket
  for readability. The httpx2 client layer above it stays. Answers are read whole, so this is
  only right for JSON answers (the benchmark's), not for SSE streams.

(``asynclib`` and ``httpx2hop``, the first two experiments, are what the gateway now ships:
its hop uses ``httpx2``, whose ``httpcore2`` imports sniffio once.)

These reach into internals of ``src/`` and of httpcore; they may stop applying when those
change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import httpx2

from bench.loadgen import _read_chunked
from ostiary.cli.main import main

PATCHES = "OSTIARY_BENCH_PATCHES"
KNOWN = ("rawhop",)
KEEPALIVE_EXPIRY = 2.0  # seconds; well under uvicorn's 5 s keep-alive timeout


class RawTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 keep-alive to plain ``http://`` origins; whole answers only."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[tuple[float, asyncio.StreamReader, Any]]] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        origin = (url.host, url.port or 80)
        idle = self._idle.setdefault(origin, [])
        body = await request.aread()
        now = time.monotonic()
        while idle and now - idle[0][0] > KEEPALIVE_EXPIRY:  # oldest first: drop the stale
            idle.pop(0)[2].close()
        for attempt in range(2):  # a reused connection the server closed: once more, afresh
            reused = bool(idle) and attempt == 0
            if reused:
                _, reader, writer = idle.pop()
            else:
                reader, writer = await asyncio.open_connection(*origin)
            try:
                status, headers, content, keep = await _exchange(reader, writer, request, body)
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                if reused:
                    continue
                raise httpx2.ConnectError("upstream connection failed") from None
            if keep:
                idle.append((time.monotonic(), reader, writer))
            else:
                writer.close()
            return httpx2.Response(status, headers=headers, content=content)
        raise httpx2.ConnectError("upstream connection failed")

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for _, _, writer in connections:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        self._idle.clear()


async def _exchange(
    reader: asyncio.StreamReader, writer: Any, request: httpx2.Request, body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), target)]
    lines += [
        name + b": " + value
        for name, value in request.headers.raw
        if name.lower() not in (b"content-length", b"transfer-encoding")
    ]
    lines.append(b"content-length: %d" % len(body))
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = close = False
    for line in head.split(b"\r\n")[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        lower = name.lower()
        if lower == b"content-length":
            length = int(value)
        elif lower == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
            continue
        elif lower == b"connection":
            close = b"close" in value.lower()
        headers.append((name, value))
    if chunked:
        content = await _read_chunked(reader)
    elif length is not None:
        content = await reader.readexactly(length)
    else:
        content, close = await reader.read(), True
    return status, headers, content, not close


def apply(patches: set[str]) -> None:
    unknown = patches - set(KNOWN)
    if unknown:
        raise SystemExit(f"unknown patches: {', '.join(sorted(unknown))}")
    if "rawhop" in patches:
        from ostiary.gateway.http_app import HttpGateway

        shipped = HttpGateway.__init__

        def init(self: HttpGateway, upstream: str, **kwargs: Any) -> None:
            shipped(self, upstream, **{**kwargs, "transport": RawTransport()})

        HttpGateway.__init__ = init  # type: ignore[method-assign]


if __name__ == "__main__":
    apply({p for p in os.environ.get(PATCHES, "").split(",") if p})
    main()
