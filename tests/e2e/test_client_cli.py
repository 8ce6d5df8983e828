"""The ``ostiary`` client commands against a real ``ostiary serve``, as people and scripts use them.

Every command runs in its own process with its own client folder (``OSTIARY_CLIENT_DIR``),
stdin closed as in a script; ``--no-browser`` prints the sign-in URL, which headless Chromium
opens, signs in and approves, so the final redirect reaches the command's loopback listener.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from playwright.sync_api import Page
from tests.support.client_cli import (
    OSTIARY,
    SIGN_IN_URL,
    ClientCli,
    Command,
    authorize_in_browser,
    scope_of,
)
from tests.support.process import RunningServer, free_port, running_server

pytestmark = pytest.mark.browser

BASELINE = {"tools:read", "resources:read", "prompts:read"}
NOTES_TOOLS = {"list_notes", "read_note", "add_note", "delete_note"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server") as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path) -> ClientCli:
    return ClientCli(tmp_path / "client")


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def mcp_url(server: RunningServer) -> str:
    return f"{server.issuer}/mcp"


def sign_in(command: Command, page: Page, server: RunningServer) -> str:
    """Finish the sign-in ``command`` printed; the URL it printed."""
    url = command.wait_for_sign_in_url()
    authorize_in_browser(page, url, server.admin_password)
    return url


def login(cli: ClientCli, page: Page, server: RunningServer) -> None:
    command = cli.start("login", mcp_url(server), "--no-browser")
    sign_in(command, page, server)
    assert command.finish() == 0, command.stderr


def test_login_in_chromium_then_status(server: RunningServer, cli: ClientCli, page: Page) -> None:
    command = cli.start("login", mcp_url(server), "--no-browser", "--json")
    url = sign_in(command, page, server)
    assert scope_of(url) == BASELINE  # what the server's 401 named, nothing more
    assert command.finish() == 0, command.stderr
    shown = json.loads(command.stdout)
    assert shown["server"] == mcp_url(server)
    user = jwt_claims(cli.stored_session()["tokens"]["access_token"])["sub"]
    assert shown["user"] == user  # ostiary serve's tokens name the user by id only

    (row,) = cli.status()
    assert row["server"] == mcp_url(server)
    assert row["issuer"] == server.issuer
    assert row["user"] == user
    assert set(row["scopes"]) == BASELINE
    assert row["expired"] is False
    assert row["refreshable"] is True
    assert 3000 < row["expires_at"] - time.time() <= 3600


def tool_names(listed: str) -> set[str]:
    return {row["name"] for row in json.loads(listed)}


def test_a_new_process_reuses_the_tokens_and_steps_up_for_a_write(
    server: RunningServer, cli: ClientCli, page: Page
) -> None:
    login(cli, page, server)

    listed = cli.run("tools", mcp_url(server), "--json", "--no-browser")
    assert listed.returncode == 0, listed.stderr
    assert "/authorize" not in listed.stderr  # no sign-in: the stored tokens were enough
    assert tool_names(listed.stdout) == NOTES_TOOLS

    # the baseline holds no tools:execute: the 403 insufficient_scope asks for more
    command = cli.start(
        "call", mcp_url(server), "add_note", "--arg", "title=t", "--arg", "body=b", "--no-browser"
    )
    url = command.wait_for_sign_in_url()
    assert scope_of(url) == BASELINE | {"tools:execute", "resources:write"}  # the union
    assert authorize_in_browser(page, url, server.admin_password) == ["consent"]
    assert command.finish() == 0, command.stderr
    assert command.stdout.strip().isdigit(), command.stdout  # the new note's id

    (row,) = cli.status()
    assert {"tools:execute", "resources:write"} <= set(row["scopes"])
    note_id = int(command.stdout)
    read = cli.run("call", mcp_url(server), "read_note", "--arg", f"note_id={note_id}")
    assert read.returncode == 0, read.stderr
    assert "/authorize" not in read.stderr
    assert read.stdout.strip() == "b"


def refreshed_events(server: RunningServer) -> list[str]:
    out = server.cli("audit")
    assert out.returncode == 0, out.stderr
    return [
        line
        for line in out.stdout.splitlines()
        if line.split("\t")[1:3] == ["token_refreshed", "success"]
    ]


def wait_for_refreshed_events(server: RunningServer, count: int) -> list[str]:
    """The audit trail buffers routine events for about a second: poll with a deadline."""
    deadline = time.monotonic() + 15
    events = refreshed_events(server)
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        events = refreshed_events(server)
    return events


def skew_of(tokens: dict[str, Any]) -> float:
    """The client's refresh skew for these tokens: 60 s, at most half their lifetime."""
    return float(min(60, (tokens["expires_at"] - tokens["obtained_at"]) / 2))


def wait_until_expiring(cli: ClientCli) -> None:
    """Until the stored access token expires within the client's refresh skew."""
    tokens = cli.stored_session()["tokens"]
    delay = tokens["expires_at"] - skew_of(tokens) - time.time() + 0.5
    assert delay < 60, delay
    time.sleep(max(delay, 0))


@pytest.fixture
def short_lived(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server whose access tokens live 30 seconds (its minimum): refreshed after 15."""
    monkeypatch.setenv("OSTIARY_ACCESS_TOKEN_TTL", "30")
    with running_server(tmp_path / "server") as running:
        yield running


@pytest.fixture
def one_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server whose access tokens live 60 seconds: refreshed after 30, so that ten
    processes have 30 seconds to use one refreshed token before it is due again."""
    monkeypatch.setenv("OSTIARY_ACCESS_TOKEN_TTL", "60")
    with running_server(tmp_path / "server") as running:
        yield running


def test_an_expiring_token_is_refreshed_before_use(
    short_lived: RunningServer, cli: ClientCli, page: Page
) -> None:
    server = short_lived
    login(cli, page, server)
    before = cli.stored_session()["tokens"]
    assert before["expires_at"] - before["obtained_at"] == 30
    assert refreshed_events(server) == []

    assert skew_of(before) == 15
    wait_until_expiring(cli)
    printed = cli.run("token", mcp_url(server), "--no-browser")
    assert printed.returncode == 0, printed.stderr
    after = cli.stored_session()["tokens"]
    assert printed.stdout.strip() == after["access_token"] != before["access_token"]
    assert after["refresh_token"] not in (None, before["refresh_token"])  # rotated and saved
    assert len(wait_for_refreshed_events(server, 1)) == 1

    listed = cli.run("tools", mcp_url(server), "--json", "--no-browser")
    assert listed.returncode == 0, listed.stderr
    assert tool_names(listed.stdout) == NOTES_TOOLS


def start_many(cli: ClientCli, *args: str, count: int = 10) -> list[Command]:
    return [cli.start(*args) for _ in range(count)]


def one_sign_in_url(commands: list[Command]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        urls = [url for url in (c.sign_in_url() for c in commands) if url is not None]
        if urls:
            (url,) = urls
            return url
        time.sleep(0.05)
    raise AssertionError("no process printed a sign-in URL")


def test_ten_processes_share_one_login_and_one_refresh(
    one_minute: RunningServer, cli: ClientCli, page: Page
) -> None:
    server = one_minute
    commands = start_many(cli, "token", mcp_url(server), "--no-browser")
    url = one_sign_in_url(commands)
    authorize_in_browser(page, url, server.admin_password)
    codes = [c.finish() for c in commands]
    assert codes == [0] * 10, [c.stderr for c in commands]
    assert sum(c.sign_in_url() is not None for c in commands) == 1
    tokens = {c.stdout.strip() for c in commands}
    assert len(tokens) == 1
    first = tokens.pop()
    assert refreshed_events(server) == []

    wait_until_expiring(cli)
    commands = start_many(cli, "token", mcp_url(server), "--no-browser")
    codes = [c.finish() for c in commands]
    assert codes == [0] * 10, [c.stderr for c in commands]
    assert all(c.sign_in_url() is None for c in commands)
    tokens = {c.stdout.strip() for c in commands}
    assert len(tokens) == 1
    assert tokens != {first}
    time.sleep(2)  # routine events reach the trail within about a second
    assert len(wait_for_refreshed_events(server, 1)) == 1


def test_a_revoked_grant_leads_to_a_clean_new_login(
    server: RunningServer, cli: ClientCli, page: Page
) -> None:
    login(cli, page, server)
    grants = server.cli("grant", "list")
    assert grants.returncode == 0, grants.stderr
    (line,) = grants.stdout.splitlines()
    revoked = server.cli("grant", "revoke", line.split("\t")[0])
    assert revoked.returncode == 0, revoked.stderr

    # the server refuses the grant's access token (401), then its refresh token
    command = cli.start("tools", mcp_url(server), "--json", "--no-browser")
    url = command.wait_for_sign_in_url()
    assert authorize_in_browser(page, url, server.admin_password) == ["consent"]
    assert command.finish() == 0, command.stderr
    assert "Traceback" not in command.stderr
    audit = server.cli("audit").stdout.splitlines()
    assert any(line.split("\t")[1:3] == ["token_refreshed", "failure"] for line in audit)
    assert tool_names(command.stdout) == NOTES_TOOLS
    (row,) = cli.status()
    assert row["expired"] is False
    active = server.cli("grant", "list")
    assert len(active.stdout.splitlines()) == 1
    assert active.stdout.split("\t")[0] != line.split("\t")[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_tokens_are_kept_in_private_files(
    server: RunningServer, cli: ClientCli, page: Page
) -> None:
    login(cli, page, server)
    tokens = cli.stored_session()["tokens"]
    secrets = [tokens["access_token"], tokens["refresh_token"]]
    (session_file,) = cli.session_files()
    assert mode(cli.folder) == 0o700
    assert mode(session_file.parent) == 0o700
    assert mode(session_file) == 0o600
    everything = [p for p in cli.folder.rglob("*")]
    for path in everything:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
        if path.is_file() and path != session_file:
            content = path.read_bytes()
            assert not any(secret.encode() in content for secret in secrets), path


def test_with_a_keyring_no_token_is_written_to_the_client_folder(
    server: RunningServer, tmp_path: Path, page: Page
) -> None:
    keyring_file = tmp_path / "os-keyring" / "keyring.json"
    keyring_file.parent.mkdir()
    cli = ClientCli(
        tmp_path / "client",
        store="keyring",
        extra_env={
            "PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.JsonFileKeyring",
            "OSTIARY_TEST_KEYRING": str(keyring_file),
            "PYTHONPATH": str(Path(__file__).parents[2]),
        },
    )
    login(cli, page, server)
    (row,) = cli.status()
    assert set(row["scopes"]) == BASELINE

    entries = json.loads(keyring_file.read_text())
    (record,) = [v for k, v in entries.items() if k.startswith("ostiary\nsession:")]
    tokens = json.loads(record)["tokens"]
    assert tokens["refresh_token"]
    files = [p for p in cli.folder.rglob("*") if p.is_file()]
    assert files, "no lock files either?"
    for path in files:
        assert path.suffix == ".lock" and path.stat().st_size == 0, path

    listed = cli.run("tools", mcp_url(server), "--json", "--no-browser")
    assert listed.returncode == 0, listed.stderr
    assert "/authorize" not in listed.stderr
    assert tool_names(listed.stdout) == NOTES_TOOLS
    files = [p for p in cli.folder.rglob("*") if p.is_file()]
    assert all(path.suffix == ".lock" and path.stat().st_size == 0 for path in files), files


@contextmanager
def plain_http_server(folder: Path) -> Iterator[str]:
    """Python's static file server: no MCP, no OAuth (a POST gets 501)."""
    folder.mkdir()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(folder))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/mcp"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_doctor_passes_every_step_after_login_and_names_the_fix_otherwise(
    server: RunningServer, cli: ClientCli, page: Page, tmp_path: Path
) -> None:
    login(cli, page, server)
    checked = cli.run("doctor", mcp_url(server), "--no-browser")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    steps = [line for line in checked.stdout.splitlines() if not line.startswith(" ")]
    assert [line.split(":")[0] for line in steps] == [
        "PASS  401 challenge",
        "PASS  protected-resource metadata",
        "PASS  authorization-server metadata",
        "PASS  registration",
        "PASS  redirect",
        "PASS  token",
        "PASS  call",
    ]
    assert "4 tools" in steps[-1]

    with plain_http_server(tmp_path / "static") as plain:
        unprotected = cli.run("doctor", plain, "--no-browser")
    wrong = f"{server.issuer}/no-such-path"
    closed = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there
    for url, answer in [
        (plain, unprotected),
        (wrong, cli.run("doctor", wrong, "--no-browser")),
        (closed, cli.run("doctor", closed, "--no-browser")),
    ]:
        assert answer.returncode == 1, (url, answer.stdout, answer.stderr)
        lines = answer.stdout.splitlines()
        assert lines[-2].startswith("FAIL  401 challenge: "), (url, lines)
        assert lines[-1].strip().startswith("fix: "), (url, lines)
        assert "Traceback" not in answer.stderr


def bridge_session(cli: ClientCli, url: str, errlog: Path) -> tuple[set[str], str]:
    """Through ``ostiary bridge``, with the official SDK's stdio client: tools and list_notes."""

    async def talk() -> tuple[set[str], str]:
        parameters = StdioServerParameters(
            command=OSTIARY, args=["bridge", url, "--no-browser"], env=cli.env()
        )
        with errlog.open("w") as log:
            async with (
                stdio_client(parameters, errlog=log) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await session.list_tools()
                result = await session.call_tool("list_notes", {})
        assert not result.is_error, result
        return {t.name for t in listed.tools}, json.dumps(result.structured_content)

    return asyncio.run(talk())


def sign_ins_for_bridge(
    talking: Future[tuple[set[str], str]], errlog: Path, page: Page, server: RunningServer
) -> list[tuple[set[str], list[str]]]:
    """Complete each sign-in the bridge prints until its MCP client is done: per sign-in,
    the scopes asked for and the pages shown."""
    done: list[tuple[set[str], list[str]]] = []
    deadline = time.monotonic() + 90
    while not talking.done():
        assert time.monotonic() < deadline, "the bridge session did not end"
        for url in SIGN_IN_URL.findall(errlog.read_text() if errlog.exists() else "")[len(done) :]:
            done.append((scope_of(url), authorize_in_browser(page, url, server.admin_password)))
        time.sleep(0.05)
    return done


def test_bridge_serves_the_remote_tools_over_stdio_and_steps_up(
    server: RunningServer, cli: ClientCli, page: Page, tmp_path: Path
) -> None:
    """After a login for the baseline scopes, tools/list goes through at once; tools/call
    needs tools:execute, so the bridge prints a sign-in URL on stderr and waits for the
    browser, leaving stdin (the MCP stream) to MCP."""
    login(cli, page, server)
    errlog = tmp_path / "bridge.log"
    # Playwright's sync API keeps an event loop in this thread: the MCP client gets its own
    with ThreadPoolExecutor(1) as worker:
        talking = worker.submit(bridge_session, cli, mcp_url(server), errlog)
        (step_up,) = sign_ins_for_bridge(talking, errlog, page, server)
        tools, notes = talking.result()
    assert "tools:execute" in step_up[0]
    assert step_up[1] == ["consent"]
    assert tools == NOTES_TOOLS
    assert notes == '{"result": []}'
    assert "Paste the address" not in errlog.read_text()  # stdin carries MCP, never an address


def test_bridge_signs_in_on_first_use(
    server: RunningServer, cli: ClientCli, page: Page, tmp_path: Path
) -> None:
    """No session yet: initialize gets a 401, the bridge signs in for the baseline scopes,
    then steps up for tools/call; the stdio client sees only answers."""
    errlog = tmp_path / "bridge.log"
    with ThreadPoolExecutor(1) as worker:
        talking = worker.submit(bridge_session, cli, mcp_url(server), errlog)
        signed_in = sign_ins_for_bridge(talking, errlog, page, server)
        tools, notes = talking.result()
    assert [shown for _, shown in signed_in] == [["login", "consent"], ["consent"]]
    assert signed_in[0][0] == BASELINE
    assert "tools:execute" in signed_in[1][0]
    assert tools == NOTES_TOOLS
    assert notes == '{"result": []}'
    assert "Paste the address" not in errlog.read_text()
