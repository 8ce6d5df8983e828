"""Fixtures for the end-to-end tier: a real server per backend, a real browser, a real callback.

Everything here is synchronous on purpose: Playwright's sync API refuses to run inside a
running event loop, and ``fresh_database`` calls ``asyncio.run`` itself. Async tests may still
use these fixtures (pytest-asyncio runs sync fixtures outside the test's loop).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright
from tests.support.flows import CallbackListener, ServerFactory, callback_listener
from tests.support.postgres import fresh_database
from tests.support.process import RunningServer, running_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium (or ``OSTIARY_CHROMIUM``); a missing one fails the test, never skips."""
    path = os.environ.get("OSTIARY_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
        pytest.fail(
            f"chromium not found at {path!r}: install it (apt-get install chromium) "
            "or set OSTIARY_CHROMIUM to a Chromium executable",
            pytrace=False,
        )
    return path


@contextmanager
def postgres_database() -> Iterator[str]:
    """``fresh_database`` in a worker thread: it calls ``asyncio.run``, which a running loop
    in this thread (Playwright's sync API keeps one) would refuse."""
    with ThreadPoolExecutor(1) as worker:
        database = fresh_database()
        url = worker.submit(database.__enter__).result()
        try:
            yield url
        finally:
            worker.submit(database.__exit__, None, None, None).result()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def start_server(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServerFactory:
    """Start ``ostiary serve`` on the test's backend; ``env`` sets ``OSTIARY_*`` variables."""
    counter = iter(range(1_000))

    @contextmanager
    def start(**env: str) -> Iterator[RunningServer]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        data_dir = tmp_path / f"data{next(counter)}"
        if backend == "sqlite":
            with running_server(data_dir) as server:
                yield server
        else:
            with postgres_database() as url, running_server(data_dir, url) as server:
                yield server

    return start


@pytest.fixture
def server(start_server: ServerFactory) -> Iterator[RunningServer]:
    """A server with default settings (10 s refresh grace)."""
    with start_server() as running:
        yield running


@pytest.fixture
def callback() -> Iterator[CallbackListener]:
    """A real HTTP listener standing in for the client's loopback redirect URI."""
    with callback_listener() as listener:
        yield listener


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    chromium_path()  # fail before starting anything when the browser is missing
    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def browser_context(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile directory for this test alone."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 800, "height": 900},
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    pages = browser_context.pages
    return pages[0] if pages else browser_context.new_page()
