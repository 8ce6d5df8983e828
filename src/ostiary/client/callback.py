"""Receiving the authorization answer: a loopback listener, or an address pasted by hand.

``LoopbackCallback`` is a tiny HTTP/1.1 server on ``127.0.0.1`` (RFC 8252 §7.3) built on
``asyncio`` streams. Only a GET to ``/callback`` whose ``state`` is one we expect ends the wait,
so another program on the machine cannot end the sign-in with a forged answer (REQ-CL-14).
Each connection may send at most 8 KB of request head within a read timeout, then it is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TextIO
from urllib.parse import urlsplit

from ostiary.client.authorization import check_state, parse_query, parse_redirect
from ostiary.client.errors import AuthorizationError

CALLBACK_PATH = "/callback"
MAX_HEAD = 8192

# Runs on an answer whose state is ours; raising AuthorizationError turns the page into a
# failure page showing the exception's message (e.g. ``check_callback`` bound to the pending
# request, so an iss mismatch never shows the answer's error text, REQ-CL-16).
Verify = Callable[[Mapping[str, str]], object]

_HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Connection", "close"),
)
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS |= {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _page(title: str, message: str) -> bytes:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return body.encode("utf-8")


def _response(status: int, title: str, message: str, extra: tuple[str, ...] = ()) -> bytes:
    body = _page(title, message)
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}"]
    lines += [f"{name}: {value}" for name, value in _HEADERS]
    lines += [*extra, f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("ascii") + body


class _Rejected(Exception):
    def __init__(self, status: int, title: str, message: str, extra: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.answer = _response(status, title, message, extra)


def _parse_head(head: bytes) -> tuple[str, str, str]:
    """Method, path and query of the request line."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _Rejected(400, "Bad request", "This is not an HTTP/1.x request.")
    try:
        target = urlsplit(parts[1])
    except ValueError:
        raise _Rejected(400, "Bad request", "The request target is not a URL.") from None
    return parts[0], target.path, target.query


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then drop what the client still sends (briefly) before closing.

    Closing with unread input makes the kernel send a reset, which can destroy the answer
    before the client reads it (e.g. the 431 for an oversized head).
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.5):
            while await reader.read(MAX_HEAD):
                pass


class LoopbackCallback:
    """Listens on ``http://127.0.0.1:<port>/callback`` for the authorization answer.

    ``port=0`` takes an ephemeral port; a requested port that is busy falls back to an
    ephemeral one, so always read ``redirect_uri`` after entering the context.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        expected_state: str | None = None,
        server_name: str = "the server",
        read_timeout: float = 10.0,
        verify: Verify | None = None,
    ) -> None:
        self._requested_port = port
        self._states: list[tuple[str, Verify | None]] = []
        if expected_state is not None:
            self.expect(expected_state, verify=verify)
        self._server_name = server_name
        self._read_timeout = read_timeout
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._answer: asyncio.Future[dict[str, str]] | None = None
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    def expect(self, state: str, *, verify: Verify | None = None) -> None:
        """Accept answers carrying ``state`` (for example ``PendingAuthorization.state``)."""
        self._states.append((state, verify))

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LoopbackCallback is not listening; use it as 'async with'")
        return self._port

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    async def __aenter__(self) -> LoopbackCallback:
        self._answer = asyncio.get_running_loop().create_future()
        try:
            self._server = await self._listen(self._requested_port)
        except OSError:
            if self._requested_port == 0:
                raise
            self._server = await self._listen(0)  # busy (or forbidden): any free port will do
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def _listen(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", port, limit=MAX_HEAD)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Cut connections still open (a stuck client) so their handlers end on their own:
        # cancelling them makes asyncio's stream callback log the cancellation as an error.
        for writer in self._handlers.values():
            writer.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def wait(self, timeout: float) -> dict[str, str]:  # noqa: ASYNC109 -- the flow's own deadline
        """The query of the first answer with an expected ``state``; ``timeout`` in seconds."""
        if self._answer is None:
            raise RuntimeError("LoopbackCallback is not listening; use it as 'async with'")
        try:
            return await asyncio.wait_for(asyncio.shield(self._answer), timeout)
        except TimeoutError:
            raise AuthorizationError(
                f"no answer from the browser within {timeout:g} s; run again, or use "
                "--no-browser and paste the address the browser ends on"
            ) from None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers[task] = writer
        try:
            answer = await self._answer_for(reader)
            writer.write(answer)
            await asyncio.wait_for(writer.drain(), self._read_timeout)
            await _linger(reader, writer)
        except (OSError, TimeoutError):
            pass  # the browser went away; nothing to tell it
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            if task is not None:
                self._handlers.pop(task, None)

    async def _answer_for(self, reader: asyncio.StreamReader) -> bytes:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._read_timeout)
            return self._route(*_parse_head(head))
        except _Rejected as rejected:
            return rejected.answer
        except asyncio.LimitOverrunError:
            return _response(431, "Request too large", "The request head is over 8 KB.")
        except TimeoutError:
            return _response(408, "Request timeout", "The request took too long to arrive.")
        except asyncio.IncompleteReadError:
            return _response(400, "Bad request", "The request ended early.")

    def _route(self, method: str, path: str, query: str) -> bytes:
        if path != CALLBACK_PATH:
            raise _Rejected(404, "Not found", "There is nothing here.")
        if method != "GET":
            raise _Rejected(405, "Method not allowed", "Only GET.", ("Allow: GET",))
        try:
            params = parse_query(query)
        except AuthorizationError as exc:
            raise _Rejected(400, "Bad request", str(exc)) from None
        verify = self._match(params)
        assert self._answer is not None
        if self._answer.done():
            raise _Rejected(400, "Already finished", "This sign-in has already finished.")
        self._answer.set_result(params)
        return self._result_page(params, verify)

    def _match(self, params: Mapping[str, str]) -> Verify | None:
        for state, verify in self._states:
            with contextlib.suppress(AuthorizationError):
                check_state(params, state)
                return verify
        raise _Rejected(
            400,
            "Not this sign-in",
            "This answer does not belong to a sign-in in progress here; it was ignored.",
        )

    def _result_page(self, params: Mapping[str, str], verify: Verify | None) -> bytes:
        try:
            if verify is not None:
                verify(params)
            elif "error" in params:
                code = params["error"]
                description = params.get("error_description")
                raise AuthorizationError(f"{code}: {description}" if description else code)
        except AuthorizationError as exc:
            return _response(200, "Sign-in failed", f"Sign-in failed: {exc}")
        return _response(
            200,
            "Signed in",
            f"You are signed in to {self._server_name}. You can close this tab.",
        )


async def read_pasted_redirect(
    prompt_stream: TextIO,
    input_stream: TextIO,
    *,
    redirect_uri: str,
    expected_state: str,
) -> dict[str, str]:
    """One pasted address (``--no-browser``): its query, if it answers this sign-in.

    The whole address from the browser's address bar is expected, even though the page there
    failed to load; a missing ``http://`` is tolerated.
    """
    print("Paste the address the browser ended on: ", end="", file=prompt_stream, flush=True)
    line = (await asyncio.to_thread(input_stream.readline)).strip()
    if not line:
        raise AuthorizationError("nothing was pasted")
    url = line if "://" in line else f"http://{line}"
    if urlsplit(url).path != urlsplit(redirect_uri).path:
        raise AuthorizationError(
            f"that is not an address under {redirect_uri}; paste the address the browser "
            "ended on after you approved"
        )
    params = parse_redirect(url)
    check_state(params, expected_state)
    return params
