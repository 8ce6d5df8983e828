"""Sending the person (or an automatic approver) to the authorization URL.

Every ``Opener`` first calls ``check_authorization_url`` (REQ-CL-24, SEC-12): the URL comes
from server metadata, so a hostile server could otherwise make us open ``javascript:`` or
``file:`` URLs. Nothing here runs a shell.
"""

from __future__ import annotations

import asyncio
import webbrowser
from collections.abc import Callable
from typing import Protocol, TextIO
from urllib.parse import urlsplit

import httpx

from ostiary.client.errors import AuthorizationError
from ostiary.core.redirect_uris import is_loopback_host


def _refuse(url: str, why: str) -> AuthorizationError:
    # ascii() keeps control characters in the message visible and harmless in a terminal.
    shown = ascii(url if len(url) <= 200 else url[:200] + "...")
    return AuthorizationError(f"refusing to open the authorization URL {shown}: {why}")


def check_authorization_url(url: str) -> None:
    """An allowlist: ``https``, or ``http`` on a loopback host; nothing else is opened."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        raise _refuse(url, "it contains whitespace, control characters or a backslash")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- a malformed port raises ValueError here
    except ValueError as exc:
        raise _refuse(url, "it is not a valid URL") from exc
    if parts.scheme not in ("https", "http"):
        raise _refuse(url, "only https URLs (http on this machine) are opened")
    if not host:
        raise _refuse(url, "it has no host")
    if "@" in parts.netloc:
        raise _refuse(url, "it carries a user name or password")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise _refuse(url, "plain http is only allowed for 127.0.0.1, ::1 or localhost")


class Opener(Protocol):
    """Takes the person to ``url``; returns once it is opened, not once they have answered."""

    async def __call__(self, url: str) -> None: ...


class SystemBrowser:
    """The desktop's browser through ``webbrowser`` (in a thread, never a shell)."""

    def __init__(self, open_url: Callable[[str, int], bool] = webbrowser.open) -> None:
        self._open_url = open_url

    async def __call__(self, url: str) -> None:
        check_authorization_url(url)
        if not await asyncio.to_thread(self._open_url, url, 1):
            raise AuthorizationError(
                "could not start a web browser; run again with --no-browser "
                "and open the printed URL yourself"
            )


class PrintOnly:
    """Prints the URL and what to do with it (``--no-browser``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    async def __call__(self, url: str) -> None:
        check_authorization_url(url)
        print(
            "Open this URL in a browser to sign in:\n\n"
            f"    {url}\n\n"
            "After you approve, the browser is sent to a 127.0.0.1 address. If that page does\n"
            "not load (the browser runs on another machine), copy the whole address from the\n"
            "browser's address bar and paste it here.",
            file=self._stream,
            flush=True,
        )


class HttpFollower:
    """GETs the URL and follows redirects: for authorization servers that approve on their own.

    Used by the conformance runner and tests; the last redirect lands on our loopback
    listener, which ends the wait. A final answer of 400 or more is an error.
    """

    def __init__(self, client: httpx.AsyncClient | None = None, *, timeout: float = 30.0) -> None:
        self._client = client
        self._timeout = timeout

    async def __call__(self, url: str) -> None:
        check_authorization_url(url)
        if self._client is not None:
            await self._follow(self._client, url)
            return
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            await self._follow(client, url)

    async def _follow(self, client: httpx.AsyncClient, url: str) -> None:
        try:
            response = await client.get(url, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise AuthorizationError(f"following the authorization URL failed: {exc}") from exc
        if response.status_code >= 400:
            # The query may hold a code or state: show only where it ended.
            where = response.url.copy_with(query=None, fragment=None)
            raise AuthorizationError(
                f"following the authorization URL ended at {where} with HTTP {response.status_code}"
            )
