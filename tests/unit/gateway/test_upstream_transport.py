"""``UpstreamTransport`` against a real loopback HTTP/1.1 server whose behaviour each test sets.

The server counts TCP connections, so reuse (or its absence) is seen from the other side.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from ostiary.gateway.upstream_transport import UpstreamTransport
from tests.support.tls import self_signed

Handler = Callable[[int, int, bytes, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class Server:
    """Calls ``handler(connection number, request number on it, body, writer)`` per request;
    the connection closes when it returns False."""

    handler: Handler
    connections: int = 0
    port: int = 0
    requests: list[tuple[int, bytes]] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        on_connection = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                on_connection += 1
                self.requests.append((number, head.split(b"\r\n")[0]))
                if not await self.handler(number, on_connection, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    head += b"".join(e + b"\r\n" for e in extra)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        running = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        server.port = running.sockets[0].getsockname()[1]
        servers.append(running)
        return server

    yield start
    for running in servers:
        running.close()


async def echo(connection: int, number: int, body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok(b'{"got": "%s"}' % body))
    await writer.drain()
    return True


async def test_keep_alive_reuses_one_connection(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    server = await serve(echo)
    async with httpx2.AsyncClient(transport=UpstreamTransport()) as client:
        url = f"http://127.0.0.1:{server.port}/mcp?x=1"
        first = await client.post(url, content=b"one")
        second = await client.post(url, content=b"two")
        got = await client.get(url)
    assert (first.json(), second.json(), got.json()) == (
        {"got": "one"},
        {"got": "two"},
        {"got": ""},
    )
    assert server.connections == 1
    assert server.requests[0] == (1, b"POST /mcp?x=1 HTTP/1.1")


async def test_a_connection_the_upstream_dropped_while_idle_is_retried_afresh(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def drops_second(
        connection: int, number: int, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if number == 2:
            return False  # read the request, close without a byte: as if closed while idle
        return await echo(connection, number, body, writer)

    server = await serve(drops_second)
    async with httpx2.AsyncClient(transport=UpstreamTransport()) as client:
        url = f"http://127.0.0.1:{server.port}/mcp"
        assert (await client.post(url, content=b"a")).json() == {"got": "a"}
        assert (await client.post(url, content=b"b")).json() == {"got": "b"}
    assert server.connections == 2


async def test_a_fresh_connection_that_fails_is_an_error_not_a_retry(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def drops(
        connection: int, number: int, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        return False

    server = await serve(drops)
    async with httpx2.AsyncClient(transport=UpstreamTransport()) as client:
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.post(f"http://127.0.0.1:{server.port}/mcp", content=b"x")
    assert server.connections == 1


async def test_an_event_stream_arrives_as_it_is_sent_and_an_early_close_drops_the_connection(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    go_on = asyncio.Event()

    async def streams(
        connection: int, number: int, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if body != b"stream":
            return await echo(connection, number, body, writer)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
        writer.write(b"transfer-encoding: chunked\r\n\r\n")
        event = b"data: one\n\n"
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
        await go_on.wait()
        event = b"data: two\n\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event))
        await writer.drain()
        return True

    server = await serve(streams)
    url = f"http://127.0.0.1:{server.port}/mcp"
    async with httpx2.AsyncClient(transport=UpstreamTransport()) as client:
        async with client.stream("POST", url, content=b"stream") as response:
            chunks = response.aiter_raw()
            assert await asyncio.wait_for(anext(chunks), 5) == b"data: one\n\n"  # before "two"
        go_on.set()  # closed early: that connection cannot be reused
        assert (await client.post(url, content=b"after")).json() == {"got": "after"}
        assert server.connections == 2
        async with client.stream("POST", url, content=b"stream") as response:
            whole = b"".join([chunk async for chunk in response.aiter_raw()])
        assert whole == b"data: one\n\ndata: two\n\n"
        assert (await client.post(url, content=b"last")).json() == {"got": "last"}
    assert server.connections == 2  # read to the end: reused


async def test_connection_close_from_the_upstream_is_honoured(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def closes(
        connection: int, number: int, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(ok(b"{}", b"connection: close"))
        await writer.drain()
        return False

    server = await serve(closes)
    async with httpx2.AsyncClient(transport=UpstreamTransport()) as client:
        url = f"http://127.0.0.1:{server.port}/mcp"
        assert (await client.post(url, content=b"1")).status_code == 200
        assert (await client.post(url, content=b"2")).status_code == 200
    assert server.connections == 2


async def test_nothing_listening_is_a_connect_error() -> None:
    async with httpx2.AsyncClient(transport=UpstreamTransport()) as client:
        with pytest.raises(httpx2.ConnectError):
            await client.post("http://127.0.0.1:9/mcp", content=b"x")


async def test_connections_in_use_are_capped_and_freed_when_an_answer_ends(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    server = await serve(echo)
    transport = UpstreamTransport(max_connections=1, wait=0.2)
    url = f"http://127.0.0.1:{server.port}/mcp"
    async with httpx2.AsyncClient(transport=transport) as client:
        async with client.stream("POST", url, content=b"held") as held:
            with pytest.raises(httpx2.PoolTimeout):
                await client.post(url, content=b"waits")
            await held.aread()
        assert (await client.post(url, content=b"next")).json() == {"got": "next"}
        with pytest.raises(httpx2.ConnectError):
            await client.post("http://127.0.0.1:9/mcp", content=b"x")
        assert (await client.post(url, content=b"slot back")).json() == {"got": "slot back"}


async def test_an_https_upstream_is_verified_and_kept_alive(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path, ips=["127.0.0.1"])
    server = Server(echo)
    running = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=server_tls)
    port = running.sockets[0].getsockname()[1]
    try:
        url = f"https://127.0.0.1:{port}/mcp"
        async with httpx2.AsyncClient(transport=UpstreamTransport(client_tls)) as client:
            assert (await client.post(url, content=b"a")).json() == {"got": "a"}
            assert (await client.post(url, content=b"b")).json() == {"got": "b"}
        assert server.connections == 1
        untrusting = UpstreamTransport(ssl.create_default_context())
        async with httpx2.AsyncClient(transport=untrusting) as client:
            with pytest.raises(httpx2.ConnectError, match="certificate verify failed"):
                await client.post(url, content=b"c")
    finally:
        running.close()
