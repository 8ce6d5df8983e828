"""A loopback HTTP/1.1 proxy that adds one request header and changes nothing else.

Some test programs written elsewhere cannot be told to send a bearer token (the conformance
suite's server scenarios send none). Put this in front of the server and they send it
anyway: each request's header block gets ``name: value`` appended (while ``value`` is set),
bodies are passed on by ``Content-Length``, and responses are piped back untouched. The
``Host`` header, in particular, reaches the server exactly as the program sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class HeaderProxy:
    target_port: int
    name: str
    value: str | None = None
    port: int = 0
    requests: list[bytes] = field(default_factory=list)  # each request line and headers, as sent

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _forward_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    key, _, val = line.partition(b":")
                    if key.strip().lower() == b"content-length":
                        length = int(val.strip())
                if self.value is not None:
                    extra = f"{self.name}: {self.value}\r\n".encode("latin-1")
                    head = head[:-2] + extra + b"\r\n"
                writer.write(head + (await reader.readexactly(length) if length else b""))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(
            self._forward_requests(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
        )


@contextmanager
def header_proxy(target_port: int, name: str, port: int = 0) -> Iterator[HeaderProxy]:
    """Run a ``HeaderProxy`` on ``127.0.0.1:port`` (0: any free port) in its own thread."""
    proxy = HeaderProxy(target_port, name, port=port)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        server = await asyncio.start_server(proxy._handle, "127.0.0.1", port)
        proxy.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield proxy
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        with contextlib.suppress(RuntimeError):
            loop.close()
