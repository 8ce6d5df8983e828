"""Helpers for the MCP clients written elsewhere (``tests/e2e/test_js_clients.py``).

``Steps`` keeps one line per client and step (passed, failed, or not reached) and appends them
to the report file ``scripts/test.py`` prints after pytest (``OSTIARY_JS_CLIENTS_REPORT``,
default ``artifacts/js-clients.txt``). ``JsonLines`` runs a Node program that talks JSON lines
on stdout. ``answer_sign_in`` is the person on Ostiary's login and consent pages, with plain
HTTP form posts, for clients that only need the final redirect URL handed back.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

import httpx
from playwright.sync_api import Page

from tests.support.flows import only_form

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def report_path() -> Path:
    return Path(os.environ.get("OSTIARY_JS_CLIENTS_REPORT", ARTIFACTS / "js-clients.txt"))


@dataclass
class Steps:
    """The steps of one client's run, reported whatever happens."""

    client: str
    names: list[str]
    outcomes: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        assert name in self.names, name
        try:
            yield
        except BaseException:
            self.outcomes[name] = "failed"
            raise
        self.outcomes[name] = "passed"

    def lines(self) -> list[str]:
        return [
            f"{self.client:<28} {name:<46} {self.outcomes.get(name, 'not reached')}"
            for name in self.names
        ]

    def write(self) -> None:
        path = report_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as report:  # one write per client: workers do not interleave
            report.write("".join(f"{line}\n" for line in self.lines()))


@contextmanager
def reported(client: str, names: list[str]) -> Iterator[Steps]:
    steps = Steps(client, names)
    try:
        yield steps
    finally:
        steps.write()


class JsonLines:
    """A running program whose stdout is JSON lines (others are kept, not parsed); its
    stdout and stderr are kept for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.records: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True),
            threading.Thread(target=self._keep, args=(self.process.stderr,), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self.out.append(line)
            if line.startswith("{"):
                self.records.put(json.loads(line))
        self.records.put(None)

    def _keep(self, stream: TextIO) -> None:
        for line in stream:
            self.err.append(line)

    def next(self, timeout: float) -> dict[str, Any]:
        try:
            record = self.records.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer in {timeout} s; stderr:\n{self.stderr}") from None
        if record is None:
            self.process.wait(timeout=10)
            raise AssertionError(
                f"exited ({self.process.returncode}) after {self.seen}; stderr:\n{self.stderr}"
            )
        self.seen.append(record)
        return record

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self.readers:
            reader.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@dataclass
class SignIn:
    """Where the person's browser was sent back to, and the pages shown on the way."""

    redirect: str
    pages: list[str]


def answer_sign_in(
    browser: httpx.Client, url: str, redirect_uri: str, *, username: str, password: str
) -> SignIn:
    """Sign in if asked and approve every scope offered; stop at the redirect to the client.

    ``browser`` keeps cookies like a browser does, so a second authorization skips the login.
    """
    pages: list[str] = []
    answer = browser.get(url)
    for _ in range(10):
        if answer.status_code in (302, 303):
            url = urljoin(url, answer.headers["location"])
            if url.startswith(redirect_uri + "?"):
                return SignIn(url, pages)
            answer = browser.get(url)
            continue
        assert answer.status_code == 200, (answer.status_code, answer.text)
        form = only_form(answer.text)
        action = urljoin(url, form.action)
        if "password" in dict(form.fields):
            pages.append(urlsplit(url).path)
            data = dict(form.fields) | {"username": username, "password": password}
            answer = browser.post(action, data=data)
        else:
            pages.append("consent")
            scopes = [value for name, value, _ in form.checkboxes if name == "scope"]
            body: dict[str, str | list[str]] = {**dict(form.fields), "scope": scopes}
            answer = browser.post(action, data=body | {"decision": "approve"})
    raise AssertionError(f"no redirect to {redirect_uri} after {pages}")


def approve_in_browser(
    page: Page,
    url: str,
    redirect_uri: str,
    *,
    password: str,
    username: str = "admin",
    screenshots: Path | None = None,
) -> list[str]:
    """In Chromium: open ``url``, sign in if asked, approve every scope, end at the client.

    Returns the pages shown (``login``, ``consent``); with ``screenshots`` (a folder) saves
    ``login.png`` and ``consent.png`` there as they appear.
    """
    shown: list[str] = []
    page.goto(url)
    if urlsplit(page.url).path == "/login":
        shown.append("login")
        if screenshots is not None:
            page.screenshot(path=str(screenshots / "login.png"), full_page=True)
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
    if not page.url.startswith(redirect_uri):
        page.wait_for_selector("button[value=approve]")
        shown.append("consent")
        if screenshots is not None:
            page.screenshot(path=str(screenshots / "consent.png"), full_page=True)
        with page.expect_navigation(url=f"{redirect_uri}?*"):
            page.click("button[value=approve]")
    assert page.url.startswith(redirect_uri + "?"), page.url
    return shown
