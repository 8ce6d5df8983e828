"""MCP clients written elsewhere, from pinned npm packages, against a real ``ostiary serve``.

* the TypeScript SDK's own OAuth client (``tests/js/ts_sdk_client.mjs``): discovery,
  registration, authorization, token, ``tools/list``, ``tools/call`` with a step-up on the
  403, and a refresh once the 30-second access token has expired;
* ``mcp-remote``, the stdio bridge desktop clients start; headless Chromium answers the
  browser it opens, the Python SDK's stdio client lists and calls tools through it, and a
  second run signs in with the tokens it stored;
* the MCP Inspector's web UI in headless Chromium, with screenshots under ``artifacts/``;
* ``mcp-remote`` again, against ``ostiary gateway`` in front of the npm filesystem server,
  stepping up on the gateway's 403 for ``write_file``.

Each client's steps are reported one line each (``scripts/test.py`` prints them). npm
installs the packages on first use into ``~/.cache/ostiary-tests``; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from playwright.sync_api import Page
from tests.support.js_clients import (
    ARTIFACTS,
    JsonLines,
    Steps,
    answer_sign_in,
    approve_in_browser,
    reported,
)
from tests.support.node import node, npm_install
from tests.support.process import RunningServer, free_port, running_server

import ostiary

pytestmark = pytest.mark.browser

TS_SDK = "@modelcontextprotocol/sdk@1.32.2"
MCP_REMOTE = "mcp-remote@0.15.1"
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
INSPECTOR_LAUNCHER = "@modelcontextprotocol/inspector/clients/launcher/build/index.js"

CLIENT_NAMES = {
    "@modelcontextprotocol/sdk": "TypeScript SDK",
    "mcp-remote": "mcp-remote",
    "@modelcontextprotocol/inspector": "MCP Inspector",
}
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


def label(spec: str) -> str:
    """``mcp-remote 0.15.1`` for ``mcp-remote@0.15.1``."""
    name, version = spec.rsplit("@", 1)
    return f"{CLIENT_NAMES[name]} {version}"


def scopes_of(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query).get("scope", [""])[0].split())


INSTALL = "npm install (cache or registry)"
TS_STEPS = [
    INSTALL,
    "discovery, registration, authorization, token",
    "tools/list",
    "tools/call with step-up on 403",
    "refresh after expiry",
]


@pytest.mark.timeout(240)
def test_typescript_sdk_client(short_lived: RunningServer) -> None:
    server = short_lived
    with reported(label(TS_SDK), TS_STEPS) as steps:
        with steps.step(INSTALL):
            modules = npm_install(TS_SDK)
            executable = node()
        run_typescript_sdk_client(server, steps, [executable, str(modules)])


def run_typescript_sdk_client(server: RunningServer, steps: Steps, node_modules: list[str]) -> None:
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    mcp_url = f"{server.issuer}/mcp"
    executable, modules = node_modules
    script = [executable, str(ROOT / "tests/js/ts_sdk_client.mjs"), modules]
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
        with steps.step(TS_STEPS[1]):
            first = next_step()
            assert first["step"] == TS_STEPS[1]
            # every discovery request found its document at the first try
            assert first["requests"][:5] == [
                "POST /mcp 401",
                "GET /.well-known/oauth-protected-resource/mcp 200",
                "GET /.well-known/oauth-authorization-server 200",
                "POST /register 201",
                "POST /token 200",
            ], first["requests"]
            assert first["server"] == {"name": "Ostiary notes", "version": ostiary.__version__}
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
        with steps.step(TS_STEPS[2]):
            tools = next_step()
            assert tools["tools"] == NOTES_TOOLS
        with steps.step(TS_STEPS[3]):
            called = next_step()
            assert called["is_error"] is False, called
            assert called["new_authorizations"] == 1
            assert {"tools:execute", "resources:write"} <= set(called["step_up_scopes"])
            assert {"tools:execute", "resources:write"} <= set(called["token_scope"].split())
            assert sign_ins[1] == ["consent"]  # still signed in: consent to the new scopes
            assert "from ts" in called["listed"], called
        with steps.step(TS_STEPS[4]):
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
    assert program.stderr == ""  # the SDK warned about nothing (read to the end by stop())


MCP_REMOTE_STEPS = [
    INSTALL,
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

    return asyncio.run(asyncio.wait_for(talk(), timeout=120))


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
    with reported(label(MCP_REMOTE), MCP_REMOTE_STEPS) as steps:
        with steps.step(INSTALL):
            proxy = npm_install(MCP_REMOTE) / "mcp-remote" / "dist" / "proxy.js"
            executable = node()
        run_mcp_remote(tmp_path, page, steps, [executable, str(proxy)])


def run_mcp_remote(tmp_path: Path, page: Page, steps: Steps, proxy: list[str]) -> None:
    """mcp-remote as a desktop client starts it: ``node proxy.js URL`` (``npx mcp-remote URL``)."""
    browser, opened = fake_browser(tmp_path)
    config = tmp_path / "mcp-auth"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "BROWSER": str(browser),
        "MCP_REMOTE_CONFIG_DIR": str(config),
    }
    errlog = tmp_path / "mcp-remote.log"
    with running_server(tmp_path / "as") as server, ThreadPoolExecutor(1) as worker:
        command = [*proxy, f"{server.issuer}/mcp"]
        # Playwright's sync API keeps an event loop in this thread: the MCP client gets its own
        talking = worker.submit(mcp_remote_session, command, env, errlog)
        with steps.step(MCP_REMOTE_STEPS[1]):
            signed_in = browse_until_done(talking, opened, page, server.admin_password, None)
            assert signed_in, errlog.read_text()
            assert signed_in[0] == (BASELINE, ["login", "consent"]), signed_in
        with steps.step(MCP_REMOTE_STEPS[2]):
            first = talking.result()
            assert first["tools"] == NOTES_TOOLS
        with steps.step(MCP_REMOTE_STEPS[3]):
            assert first["added"].is_error is False, first["added"]
            assert "via" in json.dumps(first["notes"].structured_content), first["notes"]
            # tools/call needed tools:execute: mcp-remote asked again, consent only
            assert len(signed_in) == 2, signed_in
            assert {"tools:execute", "resources:write"} <= signed_in[1][0]
            assert signed_in[1][1] == ["consent"]
        with steps.step(MCP_REMOTE_STEPS[4]):
            stored = list(config.rglob("*_tokens.json"))
            assert stored, list(config.rglob("*"))
            opened_before = opened.read_text()
            second = worker.submit(mcp_remote_session, command, env, errlog).result(timeout=90)
            assert opened.read_text() == opened_before  # no browser this time
            assert second["tools"] == NOTES_TOOLS
            assert second["added"].is_error is False, second["added"]
            titles = [n["title"] for n in second["notes"].structured_content["result"]]
            assert titles == ["via", "via"]  # one note from each run
            assert "Warning" not in errlog.read_text()


INSPECTOR_STEPS = [
    INSTALL,
    "connect: sign-in and consent in Chromium",
    "tools/list in the UI",
    "tools/call with step-up in the UI",
    "account page lists the Inspector",
]


@contextmanager
def running_inspector(tmp_path: Path, launcher: list[str], mcp_url: str) -> Iterator[str]:
    """The Inspector's web UI for ``mcp_url`` (secrets in memory); its URL with the API token."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),  # ~/.mcp-inspector
        "CLIENT_PORT": str(port),
        "MCP_SANDBOX_PORT": "0",
        "MCP_APP_ORIGIN_PORT": "0",
        "MCP_AUTO_OPEN_ENABLED": "false",
        "MCP_INSPECTOR_SECRET_STORE": "memory",
        "MCP_INSPECTOR_API_TOKEN": "ostiary-e2e",
    }
    args = ["--web", "--transport", "http", "--server-url", mcp_url]
    program = JsonLines([*launcher, *args], env=env)
    url = f"http://127.0.0.1:{port}/?MCP_INSPECTOR_API_TOKEN=ostiary-e2e"
    try:
        deadline = time.monotonic() + 60
        while "is up and running" not in program.stdout:
            assert program.process.poll() is None, program.stdout + program.stderr
            assert time.monotonic() < deadline, program.stdout + program.stderr
            time.sleep(0.1)
        yield url
    finally:
        program.stop()


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under ``artifacts/inspector/``."""
    path = ARTIFACTS / "inspector" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG"), path
    return path


def sign_in_page(page: Page, password: str) -> None:
    page.wait_for_url("**/login?**")
    assert page.title() == "Sign in · Ostiary"
    assert page.locator(".lead").inner_text() == "to continue to MCP Inspector"
    shot(page, "login.png")
    page.fill("#username", "admin")
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def consent_page(page: Page, name: str) -> list[str]:
    """Approve every scope on the consent page; the scopes it offered."""
    page.wait_for_selector("button[value=approve]")
    assert page.locator("h1").inner_text() == "MCP Inspector wants to access your account"
    boxes = page.locator("input[type=checkbox][name=scope]")
    offered = [str(boxes.nth(i).get_attribute("value")) for i in range(boxes.count())]
    shot(page, name)
    page.click("button[value=approve]")
    return offered


def add_note(page: Page) -> None:
    """Open ``add_note`` in the Tools tab, fill its form and execute it."""
    page.get_by_text("Tools", exact=True).first.click()
    page.get_by_text("add_note", exact=True).first.click()
    page.get_by_role("textbox", name="Title").fill("from the Inspector")
    page.get_by_role("textbox", name="Body").fill("hello")
    page.get_by_role("button", name="Execute Tool").click()


@pytest.mark.timeout(240)
def test_mcp_inspector(tmp_path: Path, page: Page) -> None:
    shutil.rmtree(ARTIFACTS / "inspector", ignore_errors=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with reported(label(INSPECTOR), INSPECTOR_STEPS) as steps:
        with steps.step(INSTALL):
            modules = npm_install(INSPECTOR)
            launcher = [node(), str(modules / INSPECTOR_LAUNCHER)]
        try:
            run_inspector(tmp_path, page, steps, launcher)
        except BaseException:
            shot(page, "failure.png")  # where it stopped, for the CI artifacts
            raise
    assert errors == [], errors


def run_inspector(tmp_path: Path, page: Page, steps: Steps, launcher: list[str]) -> None:
    with (
        running_server(tmp_path / "as") as server,
        running_inspector(tmp_path, launcher, f"{server.issuer}/mcp") as inspector,
    ):
        inspector_origin = inspector.split("/?")[0]
        with steps.step(INSPECTOR_STEPS[1]):
            page.goto(inspector)
            page.locator(".mantine-Switch-track").first.click()
            sign_in_page(page, server.admin_password)
            assert set(consent_page(page, "consent.png")) == BASELINE
            page.wait_for_url(f"{inspector_origin}/**")
            page.get_by_text("Connected", exact=True).wait_for()
        with steps.step(INSPECTOR_STEPS[2]):
            page.get_by_text("Tools", exact=True).first.click()
            page.get_by_text("Tools (4)").wait_for()
            for name in NOTES_TOOLS:
                assert page.get_by_text(name, exact=True).count() >= 1, name
        with steps.step(INSPECTOR_STEPS[3]):
            add_note(page)
            page.get_by_text("Additional permissions required").wait_for()
            page.get_by_role("button", name="Authorize").click()
            stepped_up = consent_page(page, "consent-step-up.png")
            assert {"tools:execute", "resources:write"} <= set(stepped_up), stepped_up
            page.wait_for_url(f"{inspector_origin}/**")
            page.get_by_text("Step-up authorization succeeded").wait_for()
            add_note(page)  # "Retry your action."
            page.get_by_text("Results", exact=True).wait_for()
            assert page.get_by_text('"result": 1').count() == 1  # the new note's id
            page.get_by_text("list_notes", exact=True).first.click()
            page.get_by_role("button", name="Execute Tool").click()
            structured = page.get_by_test_id("structured-output")
            structured.get_by_text('"title": "from the Inspector"').wait_for()
            shot(page, "inspector-tool-result.png")
        with steps.step(INSPECTOR_STEPS[4]):
            page.goto(f"{server.issuer}/account")
            # two grants (the first sign-in, the step-up), one application to revoke
            assert page.locator("h2.client").all_inner_texts() == ["MCP Inspector"]
            shot(page, "account.png")


FILESYSTEM = "@modelcontextprotocol/server-filesystem@2026.8.31"
GATEWAY_POLICY = """
[tools]
write_file = ["resources:write"]
"""
GATEWAY_STEPS = [
    INSTALL,
    "browser sign-in through the gateway",
    "tools/list and read_text_file over stdio",
    "write_file with step-up on 403",
]


def filesystem_session(
    command: list[str], env: dict[str, str], errlog: Path, folder: Path
) -> dict[str, Any]:
    """Through mcp-remote and the gateway to server-filesystem: list, read, then write."""

    async def talk() -> dict[str, Any]:
        parameters = StdioServerParameters(command=command[0], args=command[1:], env=env)
        with errlog.open("a") as log:
            async with (
                stdio_client(parameters, errlog=log) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await session.list_tools()
                path = str(folder / "hello.txt")
                content = await session.call_tool("read_text_file", {"path": path})
                target = str(folder / "from-mcp-remote.txt")
                written = await session.call_tool("write_file", {"path": target, "content": "ok"})
        return {"tools": {t.name for t in listed.tools}, "read": content, "written": written}

    return asyncio.run(asyncio.wait_for(talk(), timeout=120))


@pytest.mark.timeout(240)
def test_mcp_remote_through_the_gateway(tmp_path: Path, page: Page) -> None:
    """mcp-remote against ``ostiary gateway`` in front of the npm filesystem server (stdio)."""
    client = f"{label(MCP_REMOTE)} → gateway"
    with reported(client, GATEWAY_STEPS) as steps:
        with steps.step(INSTALL):
            proxy = npm_install(MCP_REMOTE) / "mcp-remote" / "dist" / "proxy.js"
            package = npm_install(FILESYSTEM) / "@modelcontextprotocol" / "server-filesystem"
            executable = node()
        folder = tmp_path / "files"
        folder.mkdir()
        (folder / "hello.txt").write_text("hello through two bridges")
        policy = tmp_path / "policy.toml"
        policy.write_text(GATEWAY_POLICY)
        browser, opened = fake_browser(tmp_path)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "BROWSER": str(browser),
            "MCP_REMOTE_CONFIG_DIR": str(tmp_path / "mcp-auth"),
        }
        errlog = tmp_path / "mcp-remote.log"
        upstream = [executable, str(package / "dist" / "index.js"), str(folder)]
        args = ["--policy", str(policy), "--", *upstream]
        with (
            running_server(tmp_path / "gw", None, *args, command="gateway") as gateway,
            ThreadPoolExecutor(1) as worker,
        ):
            command = [executable, str(proxy), f"{gateway.issuer}/mcp"]
            talking = worker.submit(filesystem_session, command, env, errlog, folder)
            with steps.step(GATEWAY_STEPS[1]):
                signed_in = browse_until_done(talking, opened, page, gateway.admin_password, None)
                assert signed_in and signed_in[0] == (BASELINE, ["login", "consent"]), signed_in
            with steps.step(GATEWAY_STEPS[2]):
                result = talking.result()
                assert {"list_directory", "read_text_file", "write_file"} <= result["tools"]
                assert result["read"].content[0].text == "hello through two bridges"
            with steps.step(GATEWAY_STEPS[3]):
                assert result["written"].is_error is False, result["written"]
                assert (folder / "from-mcp-remote.txt").read_text() == "ok"
                # the 403 on write_file made mcp-remote ask again, for resources:write too
                assert {"tools:execute", "resources:write"} <= signed_in[-1][0], signed_in
                assert signed_in[-1][1] == ["consent"]
                calls = gateway.cli("audit", "--calls").stdout
                assert "name=write_file\tdecision=denied" in calls
                assert "name=write_file\tdecision=allowed\t" in calls
