"""The loopback listener with real HTTP requests, and the pasted-address path (--no-browser)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ostiary.client.authorization import PendingAuthorization, check_callback
from ostiary.client.browser import HttpFollower
from ostiary.client.callback import LoopbackCallback, read_pasted_redirect
from ostiary.client.errors import AuthorizationError

STATE = "s3cret-state"
ISSUER = "https://as.example.com"


async def get(url: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, params=params)


async def raw(port: int, data: bytes, *, half_close: bool = True) -> bytes:
    """Send ``data`` on a raw connection and read whatever the listener answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_redirect_uri_is_loopback_callback() -> None:
    async with LoopbackCallback() as callback:
        assert callback.port > 0
        assert callback.redirect_uri == f"http://127.0.0.1:{callback.port}/callback"


async def test_the_right_state_ends_the_wait_with_the_query() -> None:
    async with LoopbackCallback(expected_state=STATE, server_name="Demo <MCP>") as callback:
        waiting = asyncio.create_task(callback.wait(5))
        response = await get(callback.redirect_uri, code="abc", state=STATE, iss=ISSUER)
        assert await waiting == {"code": "abc", "state": STATE, "iss": ISSUER}
    assert response.status_code == 200
    assert "You are signed in to Demo &lt;MCP&gt;. You can close this tab." in response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in response.text
    assert "src=" not in response.text
    assert "href=" not in response.text


async def test_a_wrong_or_missing_state_is_refused_and_the_wait_goes_on() -> None:
    async with LoopbackCallback() as callback:
        callback.expect(STATE)
        waiting = asyncio.create_task(callback.wait(5))
        wrong = await get(callback.redirect_uri, code="forged", state="guess")
        missing = await get(callback.redirect_uri, code="forged")
        await asyncio.sleep(0.05)
        assert not waiting.done()
        right = await get(callback.redirect_uri, code="real", state=STATE)
        assert await waiting == {"code": "real", "state": STATE}
    assert (wrong.status_code, missing.status_code, right.status_code) == (400, 400, 200)
    assert "does not belong to a sign-in" in wrong.text
    assert "forged" not in wrong.text


async def test_a_second_answer_is_refused() -> None:
    async with LoopbackCallback(expected_state=STATE) as callback:
        first = await get(callback.redirect_uri, code="one", state=STATE)
        second = await get(callback.redirect_uri, code="two", state=STATE)
        assert await callback.wait(1) == {"code": "one", "state": STATE}
    assert (first.status_code, second.status_code) == (200, 400)


async def test_an_error_answer_shows_the_escaped_code_and_description() -> None:
    async with LoopbackCallback(expected_state=STATE) as callback:
        response = await get(
            callback.redirect_uri,
            state=STATE,
            error="access_denied",
            error_description="<b>nope</b>",
        )
        params = await callback.wait(1)
    assert params["error"] == "access_denied"
    assert "Sign-in failed: access_denied: &lt;b&gt;nope&lt;/b&gt;" in response.text
    assert "<b>" not in response.text


async def test_verify_hides_error_text_after_an_iss_mismatch() -> None:
    pending = PendingAuthorization(
        state=STATE,
        code_verifier="v" * 43,
        redirect_uri="http://127.0.0.1/callback",
        issuer=ISSUER,
        iss_required=True,
        resource="https://mcp.example.com",
        scope=None,
        url=f"{ISSUER}/authorize",
    )

    def verify(params: Mapping[str, str]) -> object:
        return check_callback(params, pending)

    async with LoopbackCallback() as callback:
        callback.expect(STATE, verify=verify)
        response = await get(
            callback.redirect_uri,
            state=STATE,
            iss="https://evil.example.com",
            error="access_denied",
            error_description="call 555-EVIL",
        )
        await callback.wait(1)
    assert "Sign-in failed" in response.text
    assert "mix-up" in response.text
    assert "555-EVIL" not in response.text


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n", b"404", id="other-path"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"404", id="root"),
        pytest.param(b"POST /callback HTTP/1.1\r\nHost: x\r\n\r\n", b"405", id="post"),
        pytest.param(b"HEAD /callback HTTP/1.1\r\nHost: x\r\n\r\n", b"405", id="head"),
        pytest.param(b"GET /callback\r\n\r\n", b"400", id="http-0.9"),
        pytest.param(b"GARBAGE\r\n\r\n", b"400", id="garbage"),
        pytest.param(b"GET /callback?a=1&a=2 HTTP/1.1\r\n\r\n", b"400", id="repeated-param"),
        pytest.param(b"GET /callback HTTP/1.1\r\nHost: x\r\n", b"400", id="cut-short"),
        pytest.param(b"GET http://[::1/callback HTTP/1.1\r\n\r\n", b"400", id="bad-target"),
        pytest.param(
            b"GET /callback HTTP/1.1\r\n" + b"X: y\r\n" * 1500 + b"\r\n", b"431", id="many-headers"
        ),
        pytest.param(
            b"GET /callback?x=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"431", id="oversized"
        ),
    ],
)
async def test_other_requests_are_answered_and_ignored(request_bytes: bytes, status: bytes) -> None:
    async with LoopbackCallback(expected_state=STATE) as callback:
        answer = await raw(callback.port, request_bytes)
        with pytest.raises(AuthorizationError):
            await callback.wait(0.05)
    assert answer.startswith(b"HTTP/1.1 " + status + b" ")


async def test_405_names_the_allowed_method() -> None:
    async with LoopbackCallback(expected_state=STATE) as callback, httpx.AsyncClient() as client:
        response = await client.post(callback.redirect_uri, data={"code": "x", "state": STATE})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


async def test_a_stuck_connection_times_out_and_does_not_block_others() -> None:
    async with LoopbackCallback(expected_state=STATE, read_timeout=0.3) as callback:
        stuck = asyncio.create_task(raw(callback.port, b"GET /callback?code=x", half_close=False))
        ok = await get(callback.redirect_uri, code="c", state=STATE)
        assert ok.status_code == 200
        assert (await stuck).startswith(b"HTTP/1.1 408 ")


async def test_no_answer_in_time_is_an_authorization_error() -> None:
    async with LoopbackCallback(expected_state=STATE) as callback:
        with pytest.raises(AuthorizationError, match=r"no answer from the browser within 0.1 s"):
            await callback.wait(0.1)


async def test_a_requested_free_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with LoopbackCallback(port=port) as callback:
        assert callback.port == port


async def test_a_busy_port_falls_back_to_an_ephemeral_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        async with LoopbackCallback(port=port, expected_state=STATE) as callback:
            assert callback.port != port
            assert callback.redirect_uri == f"http://127.0.0.1:{callback.port}/callback"
            response = await get(callback.redirect_uri, code="c", state=STATE)
            assert response.status_code == 200


async def test_not_listening_yet_is_a_programming_error() -> None:
    callback = LoopbackCallback()
    with pytest.raises(RuntimeError):
        _ = callback.redirect_uri
    with pytest.raises(RuntimeError):
        await callback.wait(0.1)


class AutoApprove(BaseHTTPRequestHandler):
    """A tiny authorization server that approves at once: /authorize -> /consent -> callback."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/authorize":
            location = "/consent?" + urlencode(query)
        else:
            answer = {"code": "auto-code", "state": query["state"], "iss": ISSUER}
            location = query["redirect_uri"] + "?" + urlencode(answer)
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def auto_approve() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AutoApprove)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_http_follower_lands_on_the_listener(auto_approve: str) -> None:
    async with LoopbackCallback(expected_state=STATE) as callback:
        url = f"{auto_approve}/authorize?" + urlencode(
            {"redirect_uri": callback.redirect_uri, "state": STATE}
        )
        await HttpFollower()(url)
        assert await callback.wait(1) == {"code": "auto-code", "state": STATE, "iss": ISSUER}


async def test_http_follower_fails_when_the_listener_refuses_the_state(auto_approve: str) -> None:
    async with LoopbackCallback(expected_state=STATE) as callback:
        url = f"{auto_approve}/authorize?" + urlencode(
            {"redirect_uri": callback.redirect_uri, "state": "other"}
        )
        with pytest.raises(AuthorizationError, match="HTTP 400"):
            await HttpFollower()(url)


REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(f"{REDIRECT}?code=abc&state={STATE}\n", id="whole-url"),
        pytest.param(f"  {REDIRECT}?code=abc&state={STATE}  \n", id="spaces"),
        pytest.param(f"127.0.0.1:8765/callback?code=abc&state={STATE}\n", id="no-scheme"),
        pytest.param(f"http://127.0.0.1:9999/callback?code=abc&state={STATE}", id="other-port"),
    ],
)
async def test_pasted_redirect(line: str) -> None:
    prompt = io.StringIO()
    params = await read_pasted_redirect(
        prompt, io.StringIO(line), redirect_uri=REDIRECT, expected_state=STATE
    )
    assert params == {"code": "abc", "state": STATE}
    assert "Paste" in prompt.getvalue()


@pytest.mark.parametrize(
    ("line", "match"),
    [
        pytest.param("", "nothing was pasted", id="eof"),
        pytest.param("\n", "nothing was pasted", id="blank"),
        pytest.param(f"{REDIRECT}?code=abc&state=other\n", "state", id="wrong-state"),
        pytest.param(f"{REDIRECT}?code=abc\n", "state", id="no-state"),
        pytest.param(
            f"http://127.0.0.1:8765/elsewhere?state={STATE}\n", "not an address", id="path"
        ),
        pytest.param(f"{REDIRECT}\n", "no query", id="no-query"),
        pytest.param(f"{REDIRECT}?state={STATE}&state={STATE}\n", "repeats", id="repeated"),
    ],
)
async def test_pasted_redirect_refused(line: str, match: str) -> None:
    with pytest.raises(AuthorizationError, match=match):
        await read_pasted_redirect(
            io.StringIO(), io.StringIO(line), redirect_uri=REDIRECT, expected_state=STATE
        )


async def test_leaving_with_a_stuck_connection_ends_it_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with LoopbackCallback(read_timeout=30) as callback:
        reader, writer = await asyncio.open_connection("127.0.0.1", callback.port)
        writer.write(b"GET /callback")
        await writer.drain()
        await asyncio.sleep(0.05)
    with contextlib.suppress(ConnectionError):
        assert await asyncio.wait_for(reader.read(), 1) == b""  # cut, not answered
    writer.close()
    await writer.wait_closed()
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
