"""Run the real ``ostiary`` client commands in subprocesses, and sign in for them in Chromium.

``ClientCli`` is one client installation: its own ``OSTIARY_CLIENT_DIR`` and store choice.
``run`` waits for a command; ``start`` returns a ``Command`` whose stderr is read as it comes,
so a test can pick up the sign-in URL that ``--no-browser`` prints and finish the sign-in in
the browser while the command waits on its loopback listener.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page

OSTIARY = str(Path(sys.executable).parent / "ostiary")
SIGN_IN_URL = re.compile(r"^    (http://\S+/authorize\?\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class ClientCli:
    folder: Path
    store: str = "file"
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "OSTIARY_CLIENT_DIR": str(self.folder),
            "OSTIARY_CLIENT_STORE": self.store,
            **self.extra_env,
        }

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command with stdin closed (as from a script); nothing to sign in expected."""
        return subprocess.run(
            [OSTIARY, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
        )

    def start(self, *args: str) -> Command:
        process = subprocess.Popen(
            [OSTIARY, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )
        return Command(process)

    def status(self) -> list[dict[str, Any]]:
        out = self.run("status", "--json")
        assert out.returncode == 0, out.stderr
        rows: list[dict[str, Any]] = json.loads(out.stdout)
        return rows

    def session_files(self) -> list[Path]:
        return sorted((self.folder / "sessions").glob("*.json"))

    def stored_session(self) -> dict[str, Any]:
        """The one stored session record (the file store's JSON)."""
        (path,) = self.session_files()
        record: dict[str, Any] = json.loads(path.read_text())
        return record


class Command:
    """A running ``ostiary`` command; its stdout and stderr are collected by two threads."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=_drain, args=(process.stdout, self._out), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    def sign_in_url(self) -> str | None:
        """The sign-in URL printed so far, if any."""
        found = SIGN_IN_URL.search(self.stderr)
        return found.group(1) if found else None

    def wait_for_sign_in_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = self.sign_in_url()
            if url is not None:
                return url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
        self.finish(5)
        raise AssertionError(f"no sign-in URL; stdout={self.stdout!r} stderr={self.stderr!r}")

    def finish(self, timeout: float = 60) -> int:
        """Wait for the exit; the exit code, with both streams read to the end."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            for reader in self._readers:
                reader.join(timeout=5)
        return code


def _drain(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line)
    stream.close()


def redirect_uri_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["redirect_uri"][0]


def scope_of(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query).get("scope", [""])[0].split())


def authorize_in_browser(page: Page, url: str, password: str, username: str = "admin") -> list[str]:
    """Open the sign-in URL; sign in and approve when asked; end on the CLI's loopback page.

    The consent page is approved with every scope checked. The final redirect reaches the
    command's own loopback listener, whose page says it is signed in. Returns the pages the
    person was shown on the way (``login``, ``consent``).
    """
    redirect_uri = redirect_uri_of(url)
    shown: list[str] = []
    page.goto(url)
    if urlsplit(page.url).path == "/login":
        shown.append("login")
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
    if not page.url.startswith(redirect_uri + "?"):
        page.wait_for_selector("button[value=approve]")
        shown.append("consent")
        with page.expect_navigation(url=f"{redirect_uri}?*"):
            page.click("button[value=approve]")
    assert page.url.startswith(redirect_uri + "?"), page.url
    assert page.title() == "Signed in", page.content()
    return shown
