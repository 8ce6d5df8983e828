"""Opening the authorization URL: the allowlist (REQ-CL-24, SEC-12) and the openers."""

from __future__ import annotations

import io

import httpx
import pytest

from ostiary.client.browser import (
    HttpFollower,
    Opener,
    PrintOnly,
    SystemBrowser,
    check_authorization_url,
)
from ostiary.client.errors import AuthorizationError

GOOD = "https://as.example.com/authorize?client_id=c&state=s"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(GOOD, id="https"),
        pytest.param("HTTPS://AS.EXAMPLE.COM/authorize", id="https-upper"),
        pytest.param("https://as.example.com:8443/a?x=%20y", id="https-port-percent"),
        pytest.param("http://127.0.0.1:9000/authorize?x=1", id="http-127.0.0.1"),
        pytest.param("http://127.1.2.3/authorize", id="http-127/8"),
        pytest.param("http://[::1]:9000/authorize", id="http-ipv6-loopback"),
        pytest.param("http://localhost:9000/authorize", id="http-localhost"),
        pytest.param("http://LOCALHOST/authorize", id="http-localhost-upper"),
    ],
)
def test_allowed(url: str) -> None:
    check_authorization_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("JavaScript://as.example.com/%0aalert(1)", id="javascript-with-host"),
        pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("vbscript:msgbox(1)", id="vbscript"),
        pytest.param("ftp://as.example.com/x", id="ftp"),
        pytest.param("/authorize?x=1", id="relative"),
        pytest.param("//as.example.com/authorize", id="scheme-relative"),
        pytest.param("https:///authorize", id="no-host"),
        pytest.param("https:authorize", id="no-authority"),
        pytest.param("http://as.example.com/authorize", id="http-remote"),
        pytest.param("http://127.0.0.1.evil.com/a", id="http-loopback-lookalike"),
        pytest.param("http://[::ffff:127.0.0.1]/a", id="http-mapped-v4"),
        pytest.param("http://0.0.0.0/a", id="http-any"),
        pytest.param("https://user:pw@as.example.com/a", id="userinfo"),
        pytest.param("https://as.example.com@evil.com/a", id="userinfo-host-confusion"),
        pytest.param("https://as.example.com\\@evil.com/a", id="backslash"),
        pytest.param(" https://as.example.com/a", id="leading-space"),
        pytest.param("https://as.example.com/a b", id="inner-space"),
        pytest.param("https://as.example.com/a\n", id="newline"),
        pytest.param("https://as.example.com/a\t", id="tab"),
        pytest.param("https://as.example.com/\x00", id="nul"),
        pytest.param("https://as.example.com/\x7f", id="del"),
        pytest.param("https://as.example.com/\u2028", id="unicode-line-separator"),
        pytest.param("https://as.example.com:99999/a", id="bad-port"),
        pytest.param("https://[::1/a", id="bad-ipv6"),
        pytest.param("", id="empty"),
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(AuthorizationError, match="refusing to open"):
        check_authorization_url(url)


def test_refusal_message_shows_control_characters_escaped() -> None:
    with pytest.raises(AuthorizationError) as raised:
        check_authorization_url("https://x/\x1b[2J")
    assert "\x1b" not in str(raised.value)
    assert "\\x1b" in str(raised.value)


class Recorder:
    def __init__(self, result: bool = True) -> None:
        self.calls: list[tuple[str, int]] = []
        self.result = result

    def __call__(self, url: str, new: int) -> bool:
        self.calls.append((url, new))
        return self.result


async def test_system_browser_opens_a_new_window() -> None:
    recorder = Recorder()
    opener: Opener = SystemBrowser(recorder)
    await opener(GOOD)
    assert recorder.calls == [(GOOD, 1)]


async def test_system_browser_without_a_browser_points_to_no_browser() -> None:
    with pytest.raises(AuthorizationError, match="--no-browser"):
        await SystemBrowser(Recorder(result=False))(GOOD)


async def test_system_browser_never_opens_a_refused_url() -> None:
    recorder = Recorder()
    with pytest.raises(AuthorizationError):
        await SystemBrowser(recorder)("javascript:alert(1)")
    assert recorder.calls == []


async def test_print_only_prints_the_url_and_what_to_do() -> None:
    out = io.StringIO()
    await PrintOnly(out)(GOOD)
    assert GOOD in out.getvalue()
    assert "paste" in out.getvalue()


async def test_print_only_refuses_too() -> None:
    out = io.StringIO()
    with pytest.raises(AuthorizationError):
        await PrintOnly(out)("file:///etc/passwd")
    assert out.getvalue() == ""


def _transport(final_status: int) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authorize":
            return httpx.Response(302, headers={"Location": "/consent"})
        if request.url.path == "/consent":
            return httpx.Response(
                302, headers={"Location": "http://127.0.0.1:1/callback?code=secret&state=s"}
            )
        return httpx.Response(final_status)

    return httpx.MockTransport(handler)


async def test_http_follower_follows_redirects() -> None:
    async with httpx.AsyncClient(transport=_transport(200)) as client:
        await HttpFollower(client)("https://as.example.com/authorize")


async def test_http_follower_reports_a_failed_end_without_the_query() -> None:
    async with httpx.AsyncClient(transport=_transport(400)) as client:
        with pytest.raises(AuthorizationError, match="HTTP 400") as raised:
            await HttpFollower(client)("https://as.example.com/authorize")
    assert "secret" not in str(raised.value)
    assert "http://127.0.0.1:1/callback" in str(raised.value)


async def test_http_follower_turns_network_errors_into_authorization_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(AuthorizationError, match="refused"):
            await HttpFollower(client)("https://as.example.com/authorize")


async def test_http_follower_refuses_before_any_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(AuthorizationError, match="refusing"):
            await HttpFollower(client)("http://as.example.com/authorize")
