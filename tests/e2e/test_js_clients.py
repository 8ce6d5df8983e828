"""MCP clients written elsewhere, from pinned npm packages, against a real ``ostiary serve``.

* the TypeScript SDK's own OAuth client (``tests/js/ts_sdk_client.mjs``): discovery,
  registration, authorization, token, ``tools/list``, ``tools/call`` with a step-up on the
  403, and a refresh once the 30-second access token has expired;
* ``mcp-remote``, the stdio bridge desktop clients start; headless Chromium answers the
  browser it opens, the Python SDK's stdio client lists and calls tools through it, and a
  second run signs in with the tokens it stored;
* the MCP Inspector's web UI in headless Chromium, with screenshots under ``artifacts/``.

Each client's steps are reported one line each (``scripts/test.py`` prints them). npm
installs the packages on first use into ``~/.cache/ostiary-tests``; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from playwright.sync_api import Page
from tests.support.js_clients import JsonLines, answer_sign_in, approve_in_browser, reported
from tests.support.node import node, npm_install
from tests.support.process import RunningServer, free_port, running_server

pytestmark = pytest.mark.browser

TS_SDK = "@modelcontextprotocol/sdk@1.32.2"
MCP_REMOTE = "mcp-remote@0.15.1"
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"

ROOT = Path(__file__).resolve().parents[2]
NOTES_TOOLS = ["add_note", "delete_note", "list_notes", "read_note"]
BASELINE = {"tools:read", "resources:read", "prompts:read"}
ACCESS_TOKEN_TTL = 30  # the smallest ``--access-token-ttl``
EXPIRY_SLACK = 31  # the resource server's 30 s clock-skew allowance, and one more


@pytest.fixture
def short_lived(tmp_path: Path) -> Iterator[RunningServer]:
    """``ostiary serve`` whose access tokens live 30 seconds."""
    ttl = str(ACCESS_TOKEN_TTL)
    with running_server(tmp_path / "as", None, "--access-token-ttl", ttl) as server:
        yield server


def scopes_of(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query).get("scope", [""])[0].split())


TS_STEPS = [
    "discovery, registration, authorization, token",
    "tools/list",
    "tools/call with step-up on 403",
    "refresh after expiry",
]


@pytest.mark.timeout(240)
def test_typescript_sdk_client(short_lived: RunningServer) -> None:
    server = short_lived
    modules = npm_install(TS_SDK)
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    mcp_url = f"{server.issuer}/mcp"
    script = [node(), str(ROOT / "tests/js/ts_sdk_client.mjs"), str(modules)]
    program = JsonLines([*script, mcp_url, redirect_uri, str(EXPIRY_SLACK)])
    browser = httpx.Client(timeout=10)
    authorizations: list[str] = []
    sign_ins: list[list[str]] = []

    def next_step(timeout: float = 30) -> dict[str, Any]:
        """The next step record; answers every sign-in the client asks for on the way."""
        while True:
            record = program.next(timeout)
            if "authorize" not in record:
                assert record.get("ok") is True, json.dumps(record, indent=1)
                return record
            authorizations.append(record["authorize"])
            answered = answer_sign_in(
                browser,
                record["authorize"],
                redirect_uri,
                username="admin",
                password=server.admin_password,
            )
            sign_ins.append(answered.pages)
            program.send(answered.redirect)

    try:
        with reported(f"TypeScript SDK {TS_SDK.rsplit('@', 1)[1]}", TS_STEPS) as steps:
            with steps.step(TS_STEPS[0]):
                first = next_step()
                assert first["step"] == TS_STEPS[0]
                assert first["server"] == "Ostiary notes"
                assert first["authorization_server"].rstrip("/") == server.issuer
                assert first["resource"] == mcp_url
                assert first["has_refresh_token"] is True
                query = parse_qs(urlsplit(first["authorization_url"]).query)
                assert query["client_id"] == [first["client_id"]]
                assert query["resource"] == [mcp_url]
                assert query["code_challenge_method"] == ["S256"]
                assert scopes_of(first["authorization_url"]) == BASELINE
                assert set(first["token_scope"].split()) == BASELINE
                assert sign_ins == [["/login", "consent"]]
                listed = server.cli("client", "list")
                assert first["client_id"] in listed.stdout, listed.stdout
            with steps.step(TS_STEPS[1]):
                tools = next_step()
                assert tools["tools"] == NOTES_TOOLS
            with steps.step(TS_STEPS[2]):
                called = next_step()
                assert called["is_error"] is False, called
                assert called["new_authorizations"] == 1
                assert {"tools:execute", "resources:write"} <= set(called["step_up_scopes"])
                assert {"tools:execute", "resources:write"} <= set(called["token_scope"].split())
                assert sign_ins[1] == ["consent"]  # still signed in: consent to the new scopes
                assert "from ts" in called["listed"], called
            with steps.step(TS_STEPS[3]):
                refreshed = next_step(timeout=ACCESS_TOKEN_TTL + EXPIRY_SLACK + 30)
                assert refreshed["new_authorizations"] == 0, refreshed
                assert refreshed["access_token_changed"] is True
                assert refreshed["refresh_token_rotated"] is True
                assert refreshed["new_token_sets"] == 1
                assert "POST /mcp 401" in refreshed["statuses"], refreshed
                assert "from ts" in refreshed["listed"]
                assert program.next(10) == {"done": True}
                assert program.process.wait(timeout=10) == 0, program.stderr
    finally:
        program.stop()
        browser.close()
    assert len(authorizations) == 2


MCP_REMOTE_STEPS = [
    "first run: browser sign-in in Chromium",
    "first run: tools/list over stdio",
    "first run: tools/call over stdio",
    "second run: stored tokens, no sign-in",
]


def fake_browser(folder: Path) -> tuple[Path, Path]:
    """A ``BROWSER`` program that writes each URL it is asked to open to a file."""
    opened = folder / "opened.txt"
    program = folder / "browser.sh"
    program.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n')
    program.chmod(0o755)
    return program, opened


def mcp_remote_session(command: list[str], env: dict[str, str], errlog: Path) -> dict[str, Any]:
    """Through mcp-remote, with the Python SDK's stdio client: tools, then two tool calls."""

    async def talk() -> dict[str, Any]:
        parameters = StdioServerParameters(command=command[0], args=command[1:], env=env)
        with errlog.open("a") as log:
            async with (
                stdio_client(parameters, errlog=log) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await session.list_tools()
                added = await session.call_tool("add_note", {"title": "via", "body": "remote"})
                notes = await session.call_tool("list_notes", {})
        return {
            "tools": sorted(t.name for t in listed.tools),
            "added": added,
            "notes": notes,
        }

    return asyncio.run(talk())


def browse_until_done(
    talking: Future[dict[str, Any]], opened: Path, page: Page, password: str, shots: Path | None
) -> list[tuple[set[str], list[str]]]:
    """Answer every URL mcp-remote opened until its session ends: scopes asked, pages shown."""
    done: list[tuple[set[str], list[str]]] = []
    deadline = time.monotonic() + 120
    while not talking.done():
        assert time.monotonic() < deadline, "the mcp-remote session did not end"
        urls = opened.read_text().split() if opened.exists() else []
        for url in urls[len(done) :]:
            redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
            shown = approve_in_browser(
                page, url, redirect_uri, password=password, screenshots=shots
            )
            done.append((scopes_of(url), shown))
        time.sleep(0.05)
    return done


@pytest.mark.timeout(240)
def test_mcp_remote(tmp_path: Path, page: Page) -> None:
    modules = npm_install(MCP_REMOTE)
    proxy = modules / "mcp-remote" / "dist" / "proxy.js"
    browser, opened = fake_browser(tmp_path)
    config = tmp_path / "mcp-auth"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "BROWSER": str(browser),
        "MCP_REMOTE_CONFIG_DIR": str(config),
    }
    errlog = tmp_path / "mcp-remote.log"
    with (
        running_server(tmp_path / "as") as server,
        reported(f"mcp-remote {MCP_REMOTE.rsplit('@', 1)[1]}", MCP_REMOTE_STEPS) as steps,
        ThreadPoolExecutor(1) as worker,
    ):
        command = [node(), str(proxy), f"{server.issuer}/mcp"]
        # Playwright's sync API keeps an event loop in this thread: the MCP client gets its own
        talking = worker.submit(mcp_remote_session, command, env, errlog)
        with steps.step(MCP_REMOTE_STEPS[0]):
            signed_in = browse_until_done(talking, opened, page, server.admin_password, None)
            assert signed_in, errlog.read_text()
            assert signed_in[0] == (BASELINE, ["login", "consent"]), signed_in
        with steps.step(MCP_REMOTE_STEPS[1]):
            first = talking.result()
            assert first["tools"] == NOTES_TOOLS
        with steps.step(MCP_REMOTE_STEPS[2]):
            assert first["added"].is_error is False, first["added"]
            assert "via" in json.dumps(first["notes"].structured_content), first["notes"]
            # tools/call needed tools:execute: mcp-remote asked again, consent only
            assert len(signed_in) == 2, signed_in
            assert {"tools:execute", "resources:write"} <= signed_in[1][0]
            assert signed_in[1][1] == ["consent"]
        with steps.step(MCP_REMOTE_STEPS[3]):
            stored = list(config.rglob("*_tokens.json"))
            assert stored, list(config.rglob("*"))
            opened_before = opened.read_text()
            second = worker.submit(mcp_remote_session, command, env, errlog).result(timeout=90)
            assert opened.read_text() == opened_before  # no browser this time
            assert second["tools"] == NOTES_TOOLS
            assert second["added"].is_error is False, second["added"]
            titles = [n["title"] for n in second["notes"].structured_content["result"]]
            assert titles == ["via", "via"]  # one note from each run
