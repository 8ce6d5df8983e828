"""The gateway's hop to an HTTP upstream: HTTP/1.1 keep-alive over asyncio streams, with h11.

An ``httpx2`` transport, so the client layer (requests, responses, streaming, errors) stays
``httpx2``'s, and the protocol is ``h11``'s (the HTTP/1.1 state machine httpcore itself uses);
only the connection handling is this module's: a stack of idle connections per origin,
newest first, each dropped after ``KEEPALIVE_EXPIRY`` seconds idle.

Why not httpcore's pool: on every request and every response close it checks each connection
it holds (a socket poll among the checks), and with the 32 connections a busy gateway keeps
that was most of the hop's CPU (``bench/gateway.py``: 1.4 ms of gateway CPU per call through
``httpx2``'s default transport, 0.6 ms through this one).

A request on a reused connection that ends before any byte of an answer arrived (the upstream
closed it while idle, so never read the request) is sent once more on a new connection.
Answers stream: an SSE stream is read event by event as it arrives, and a connection goes back
to the stack only once its answer has been read to the end; one closed early is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator

import h11
import httpx2

KEEPALIVE_EXPIRY = 2.0  # under the usual 5 s keep-alive of servers (uvicorn's)
MAX_IDLE = 64  # idle connections kept per origin
MAX_CONNECTIONS = 256  # in use at once, all origins: more requests wait for one
POOL_TIMEOUT = 30.0  # how long a request waits for a connection slot
CONNECT_TIMEOUT = 10.0
READ_SIZE = 65536

Origin = tuple[str, str, int]  # scheme, host, port


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0
        self.received = 0  # bytes of the current answer so far

    def close(self) -> None:
        self.writer.close()

    async def send(self, *events: h11.Event) -> None:
        for event in events:
            data = self.h11.send(event)
            if data:
                self.writer.write(data)
        await self.writer.drain()

    async def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            self.received += len(data)
            self.h11.receive_data(data)  # b"" is end of stream, which h11 then reports


class _Body(httpx2.AsyncByteStream):
    """The answer's body as it arrives; the connection goes back when it is all read."""

    def __init__(self, transport: UpstreamTransport, origin: Origin, connection: _Connection):
        self._transport = transport
        self._origin = origin
        self._connection: _Connection | None = connection
        self._slot = True  # holds one of the transport's connection slots until done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while True:
            try:
                event = await connection.next_event()
            except (h11.RemoteProtocolError, OSError) as exc:
                await self.aclose()
                raise httpx2.RemoteProtocolError(f"upstream answer broken: {exc}") from None
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._connection = None
                self._transport.release(self._origin, connection)
                self._free_slot()
                return
            else:  # ConnectionClosed before the end, or PAUSED
                await self.aclose()
                raise httpx2.RemoteProtocolError("upstream closed the connection mid-answer")

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:  # not read to the end: it cannot carry another request
            connection.close()
        self._free_slot()

    def _free_slot(self) -> None:
        if self._slot:
            self._slot = False
            self._transport.slots.release()


class UpstreamTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 to ``http://`` and ``https://`` origins; no proxies, no HTTP/2."""

    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
        wait: float = POOL_TIMEOUT,
    ) -> None:
        self._tls = tls
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False
        self.slots = asyncio.Semaphore(max_connections)  # connections in use, at most
        self._wait = wait

    def release(self, origin: Origin, connection: _Connection) -> None:
        state = connection.h11
        if (
            self._closed
            or state.our_state is not h11.DONE
            or state.their_state is not h11.DONE
            or connection.reader.at_eof()
        ):
            connection.close()
            return
        state.start_next_cycle()
        connection.received = 0
        connection.idle_since = time.monotonic()
        idle = self._idle.setdefault(origin, [])
        idle.append(connection)
        if len(idle) > MAX_IDLE:
            idle.pop(0).close()

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the newest: the least likely to have been closed
            if now - connection.idle_since < KEEPALIVE_EXPIRY and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            tls = self._tls or ssl.create_default_context()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, limit=READ_SIZE), CONNECT_TIMEOUT
            )
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"no connection to {host}:{port}") from None
        except OSError as exc:
            raise httpx2.ConnectError(f"cannot connect to {host}:{port}: {exc}") from None
        return _Connection(reader, writer)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        body = await request.aread()
        target = url.raw_path
        headers = list(request.headers.raw)
        try:
            await asyncio.wait_for(self.slots.acquire(), self._wait)
        except TimeoutError:
            raise httpx2.PoolTimeout("every upstream connection is busy") from None
        try:
            return await self._send(origin, request.method, target, headers, body)
        except BaseException:
            self.slots.release()  # no answer to hold it
            raise

    async def _send(
        self,
        origin: Origin,
        method: bytes | str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> httpx2.Response:
        for attempt in range(2):
            connection = self._take(origin) if attempt == 0 else None
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin)
            try:
                response = await self._exchange(connection, method, target, headers, body)
            except (h11.ProtocolError, OSError, _ClosedEarly) as exc:
                connection.close()
                if reused and connection.received == 0:
                    continue  # closed by the upstream while idle: once more, afresh
                raise httpx2.RemoteProtocolError(f"upstream exchange failed: {exc}") from None
            stream = _Body(self, origin, connection)
            return httpx2.Response(
                response.status_code,
                headers=response.headers,
                stream=stream,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
            )
        raise httpx2.RemoteProtocolError("upstream closed the connection twice")  # pragma: no cover

    async def _exchange(
        self,
        connection: _Connection,
        method: bytes | str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> h11.Response:
        method = method.encode() if isinstance(method, str) else method
        events: list[h11.Event] = [h11.Request(method=method, target=target, headers=headers)]
        if body:
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        await connection.send(*events)
        while True:
            event = await connection.next_event()
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                continue
            raise _ClosedEarly(str(event))

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                with contextlib.suppress(Exception):
                    connection.close()
        self._idle.clear()


class _ClosedEarly(Exception):
    """The connection ended before an answer began."""
