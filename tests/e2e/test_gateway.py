"""``ostiary gateway`` in front of MCP servers nobody here wrote, driven by the official SDK client.

The upstreams are the npm packages ``@modelcontextprotocol/server-everything`` (over stdio and
in its streamable-HTTP mode) and ``@modelcontextprotocol/server-filesystem`` over a temporary
folder, installed by the tests at pinned versions. Each gateway is a real ``ostiary gateway``
process with its own authorization server on SQLite; tokens come from the real login and
consent pages, answered with httpx (``sign_in``) or, for the step-up, by the SDK's own
``OAuthClientProvider`` (``tests/support/sdk_oauth.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import LoggingMessageNotificationParams, TextContent
from tests.support.flows import CallbackListener, sign_in
from tests.support.header_proxy import header_proxy
from tests.support.node import node, npm_install
from tests.support.process import RunningServer, free_port, running_server
from tests.support.sdk_oauth import MemoryStorage, Person, oauth_provider

EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"
FILESYSTEM = "@modelcontextprotocol/server-filesystem@2026.8.31"
ACCEPT = "application/json, text/event-stream"
STARTED = re.compile(r"upstream\[user=(\S+)\]: started .* \(pid (\d+)\)")
FILESYSTEM_POLICY = """
hide_denied_tools = true

[tools]
write_file = ["resources:write"]
edit_file = ["resources:write"]
create_directory = ["resources:write"]
move_file = ["resources:write"]
"""

pytestmark = pytest.mark.timeout(300)


def everything() -> list[str]:
    package = npm_install(EVERYTHING) / "@modelcontextprotocol/server-everything"
    return [node(), str(package / "dist/index.js")]


def filesystem(folder: Path) -> list[str]:
    package = npm_install(FILESYSTEM) / "@modelcontextprotocol/server-filesystem"
    return [node(), str(package / "dist/index.js"), str(folder)]


@contextmanager
def gateway(tmp_path: Path, *args: str) -> Iterator[RunningServer]:
    with running_server(tmp_path / "gateway", None, *args, command="gateway") as server:
        yield server


@contextmanager
def everything_over_http() -> Iterator[int]:
    """server-everything in its streamable-HTTP mode on a free port; the port."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    process = subprocess.Popen(
        [*everything(), "streamableHttp"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "listening on port" in line:
                break
        else:
            raise AssertionError("server-everything did not start")
        drain = threading.Thread(target=process.stderr.read, daemon=True)  # never let it fill
        drain.start()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def started(server: RunningServer) -> list[tuple[str, int]]:
    """``(user, pid)`` of every upstream process the gateway started, in order."""
    return [(m[1], int(m[2])) for m in STARTED.finditer("".join(server.output))]


def wait_for(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def add_user(server: RunningServer, name: str) -> str:
    password = f"{name}-password-123"
    added = server.cli("user", "add", name, "--password-stdin", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    return password


def bearer(token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)


def text_of(result: Any) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


def calls(server: RunningServer) -> list[dict[str, str]]:
    """``ostiary audit --calls``, one dict per line."""
    out = server.cli("audit", "--calls")
    assert out.returncode == 0, out.stderr
    rows = []
    for line in out.stdout.splitlines():
        fields = line.split("\t")
        rows.append({"at": fields[0]} | dict(f.split("=", 1) for f in fields[1:]))
    return rows


async def test_a_scope_limited_user_lists_but_cannot_write_until_stepping_up(
    tmp_path: Path, callback: CallbackListener
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello from the folder")
    policy = tmp_path / "policy.toml"
    policy.write_text(FILESYSTEM_POLICY)
    with gateway(tmp_path, "--policy", str(policy), "--", *filesystem(folder)) as server:
        url = f"{server.issuer}/mcp"
        limited = sign_in(server, callback, scope="tools:read tools:execute")["access_token"]
        async with (
            bearer(limited) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            assert {"list_directory", "read_text_file"} <= names
            assert "write_file" not in names  # hidden: this token may not call it
            listing = await session.call_tool("list_directory", {"path": str(folder)})
            assert "hello.txt" in text_of(listing)
            content = await session.call_tool("read_text_file", {"path": str(folder / "hello.txt")})
            assert text_of(content) == "hello from the folder"

        # the same token, writing: a 403 challenge naming every scope the call needs
        refused = await asyncio.to_thread(
            post_call, url, limited, "write_file", {"path": str(folder / "x"), "content": "!"}
        )
        assert refused.status_code == 403
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert set(re.search(r'scope="([^"]*)"', challenge)[1].split()) == {  # type: ignore[index]
            "tools:execute",
            "resources:write",
        }
        assert (
            f'resource_metadata="{server.issuer}/.well-known/oauth-protected-resource/mcp"'
            in challenge
        )
        assert not (folder / "x").exists()

        # the SDK's OAuth client steps up on that 403 by itself, and the write goes through
        person = Person(server, callback)
        storage = MemoryStorage()
        async with (
            httpx2.AsyncClient(auth=oauth_provider(url, person, storage), timeout=30) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            written = await session.call_tool(
                "write_file",
                {"path": str(folder / "new.txt"), "content": "written via the gateway"},
            )
            assert written.is_error is False, written
            names = {t.name for t in (await session.list_tools()).tools}
            assert "write_file" in names  # the wider token sees it
        person.browser.close()
        assert (folder / "new.txt").read_text() == "written via the gateway"
        assert "resources:write" in (storage.issued[-1].scope or "").split()
        assert person.pages[0] == "login" and len(person.requests) >= 2

        rows = calls(server)
        denied = [r for r in rows if r["name"] == "write_file" and r["decision"] == "denied"]
        allowed = [r for r in rows if r["name"] == "write_file" and r["decision"] == "allowed"]
        assert len(denied) >= 1 and denied[0]["outcome"] == "denied"
        assert denied[0]["user"] == "admin" and denied[0]["token"] != "-"
        assert len(allowed) == 1 and allowed[0]["outcome"] == "ok"
        assert float(allowed[0]["latency_ms"]) > 0
        reads = [r for r in rows if r["name"] == "read_text_file"]
        assert reads and reads[0]["method"] == "tools/call"


def post_call(url: str, token: str, tool: str, arguments: dict[str, Any]) -> httpx.Response:
    """A ``tools/call`` in a fresh session, with plain httpx; the call's response."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": ACCEPT,
        "Content-Type": "application/json",
    }
    with httpx.Client(timeout=30, headers=headers) as http:
        opened = http.post(url, json=initialize_request())
        assert opened.status_code == 200, opened.text
        session = {
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "Mcp-Protocol-Version": "2025-11-25",
        }
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        return http.post(url, json=call, headers=session)


async def session_env(url: str, token: str) -> str:
    async with (
        bearer(token) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return text_of(await session.call_tool("get-env", {}))


async def test_each_user_gets_their_own_upstream_process_and_environment(
    tmp_path: Path, callback: CallbackListener
) -> None:
    args = [
        "--env",
        "SHARED=everyone",
        "--user-env",
        "alice:WHO=alice",
        "--user-env",
        "admin:WHO=admin",
    ]
    with gateway(tmp_path, *args, "--", *everything(), "stdio") as server:
        url = f"{server.issuer}/mcp"
        password = add_user(server, "alice")
        admin = sign_in(server, callback)["access_token"]
        alice = sign_in(server, callback, username="alice", password=password)["access_token"]
        admin_env, alice_env = await asyncio.gather(
            session_env(url, admin), session_env(url, alice)
        )
        admin_vars, alice_vars = json.loads(admin_env), json.loads(alice_env)
        assert admin_vars["WHO"] == "admin" and alice_vars["WHO"] == "alice"
        assert admin_vars["SHARED"] == alice_vars["SHARED"] == "everyone"
        # the gateway's own environment (its data folder, say) never reaches the upstream
        assert not any(name.startswith("OSTIARY_") for name in admin_vars)
        # a second session of the same user shares that user's process
        again = json.loads(await session_env(url, admin))
        assert again["WHO"] == "admin"
        processes = started(server)
        assert sorted(user for user, _ in processes) == ["admin", "alice"], processes
        assert len({pid for _, pid in processes}) == 2
        # the upstream's stderr is in the gateway's log, with the user it belongs to
        log = "".join(server.output)
        assert re.search(r"upstream\[user=alice\]: Starting default \(STDIO\) server", log), log


async def test_a_killed_upstream_is_restarted_and_the_client_told(
    tmp_path: Path, callback: CallbackListener
) -> None:
    with gateway(tmp_path, "--", *everything(), "stdio") as server:
        url = f"{server.issuer}/mcp"
        token = sign_in(server, callback)["access_token"]
        told: list[str] = []

        async def on_log(params: LoggingMessageNotificationParams) -> None:
            told.append(str(params.data))

        async with (
            bearer(token) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write, logging_callback=on_log) as session,
        ):
            await session.initialize()
            assert text_of(await session.call_tool("echo", {"message": "one"})) == "Echo: one"
            ((_, pid),) = started(server)
            os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(wait_for, lambda: len(started(server)) == 2)
            for _ in range(200):
                if any("restarted" in t for t in told):
                    break
                await asyncio.sleep(0.05)
            assert any("exited with code -9 and was restarted" in t for t in told), told
            assert text_of(await session.call_tool("echo", {"message": "two"})) == "Echo: two"
        (_, first), (_, second) = started(server)
        assert first == pid and second != pid


async def test_progress_notifications_reach_the_client(
    tmp_path: Path, callback: CallbackListener
) -> None:
    with gateway(tmp_path, "--", *everything(), "stdio") as server:
        url = f"{server.issuer}/mcp"
        token = sign_in(server, callback)["access_token"]
        progress_seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            progress_seen.append(progress)

        async with (
            bearer(token) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool(
                "trigger-long-running-operation",
                {"duration": 1, "steps": 4},
                progress_callback=on_progress,
            )
            assert "completed" in text_of(result).lower(), result
        assert progress_seen == [1, 2, 3, 4]
        # a stateless (2026-07-28) request is told to use the handshake instead
        async with httpx.AsyncClient(timeout=10) as raw:
            modern = await raw.post(
                url,
                json={"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {}},
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": ACCEPT,
                    "MCP-Protocol-Version": "2026-07-28",
                },
            )
        assert modern.status_code == 400
        assert modern.json()["error"]["code"] == -32022
        assert "2025-11-25" in modern.json()["error"]["data"]["supported"]


async def test_the_process_cap_refuses_clearly_and_idle_processes_stop(
    tmp_path: Path, callback: CallbackListener
) -> None:
    args = ["--max-processes", "1", "--idle-timeout", "3"]
    with gateway(tmp_path, *args, "--", *everything(), "stdio") as server:
        url = f"{server.issuer}/mcp"
        password = add_user(server, "bob")
        admin = sign_in(server, callback)["access_token"]
        bob = sign_in(server, callback, username="bob", password=password)["access_token"]
        assert "Echo" in json.dumps(await session_call(url, admin, "echo", {"message": "x"}))
        # admin's process was busy a moment ago: bob would be a second process
        async with httpx.AsyncClient(timeout=10) as http:
            headers = {"Authorization": f"Bearer {bob}", "Accept": ACCEPT}
            refused = await http.post(url, json=initialize_request(), headers=headers)
        assert refused.status_code == 503, refused.text
        assert "limit of 1 upstream processes" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "30"
        # idle for 3 s, admin's process is stopped, and bob's turn comes
        wait_for(lambda: "admin]: idle for" in "".join(server.output))
        assert json.loads(await session_env(url, bob))["PATH"]
        assert [user for user, _ in started(server)] == ["admin", "bob"]


def initialize_request() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }


async def session_call(url: str, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with (
        bearer(token) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return (await session.call_tool(tool, arguments)).model_dump(mode="json")


async def test_an_http_upstream_gets_the_gateway_credentials_never_the_client_token(
    tmp_path: Path, callback: CallbackListener
) -> None:
    secret = tmp_path / "upstream-key"
    secret.write_text("k-from-a-file\n")
    with everything_over_http() as upstream_port, header_proxy(upstream_port, "x-unused") as seen:
        args = [
            "--upstream",
            f"http://127.0.0.1:{seen.port}/mcp",
            "--header",
            f"X-Upstream-Key: @{secret}",
            "--user-header",
            "admin:X-User-Key: admin-only",
        ]
        with gateway(tmp_path, *args) as server:
            url = f"{server.issuer}/mcp"
            token = sign_in(server, callback)["access_token"]
            progress_seen: list[float] = []

            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                progress_seen.append(progress)

            async with (
                bearer(token) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                init = await session.initialize()
                assert init.server_info.name == "mcp-servers/everything"
                assert text_of(await session.call_tool("echo", {"message": "hi"})) == "Echo: hi"
                await session.call_tool(
                    "trigger-long-running-operation",
                    {"duration": 1, "steps": 2},
                    progress_callback=on_progress,
                )
            assert progress_seen == [1, 2]
            rows = calls(server)
    heads = [head.decode("latin-1").lower() for head in seen.requests]
    assert len(heads) >= 4  # initialize, initialized, calls, the GET stream, DELETE
    assert not any("\r\nauthorization:" in head for head in heads), heads
    assert not any(token.lower() in head for head in heads)
    assert all("\r\nx-upstream-key: k-from-a-file\r\n" in head for head in heads), heads
    assert all("\r\nx-user-key: admin-only\r\n" in head for head in heads), heads
    echo = [r for r in rows if r["name"] == "echo"]
    assert echo and echo[0]["outcome"] == "ok" and echo[0]["user"] == "admin"


async def test_trust_issuer_makes_the_gateway_a_resource_server_for_another_server(
    tmp_path: Path, callback: CallbackListener
) -> None:
    port = free_port()
    mcp = f"http://127.0.0.1:{port}/mcp"
    prm = "/.well-known/oauth-protected-resource/mcp"
    with running_server(tmp_path / "as", None, "--resource", mcp) as issuer:
        args = ["--trust-issuer", issuer.issuer, "--allow-http-loopback-issuer"]
        args += ["--", *everything(), "stdio"]
        with running_server(
            tmp_path / "gw", None, *args, command="gateway", ready_path=prm, port=port
        ) as server:
            async with httpx.AsyncClient(timeout=10) as http:
                document = (await http.get(f"{server.issuer}{prm}")).json()
                assert document["authorization_servers"] == [issuer.issuer]
                assert (await http.get(f"{server.issuer}/login")).status_code == 404
            token = sign_in(issuer, callback, resource=mcp)["access_token"]
            answer = await session_call(mcp, token, "echo", {"message": "trusted"})
            assert answer["content"][0]["text"] == "Echo: trusted"
            # a token the issuer made for its own /mcp is not for this gateway
            own = sign_in(issuer, callback)["access_token"]
            async with httpx.AsyncClient(timeout=10) as http:
                headers = {"Authorization": f"Bearer {own}", "Accept": ACCEPT}
                refused = await http.post(mcp, json=initialize_request(), headers=headers)
            assert refused.status_code == 401
            rows = calls(server)
    echo = [r for r in rows if r["name"] == "echo"]
    assert len(echo) == 1 and echo[0]["outcome"] == "ok"
    assert echo[0]["user"] not in ("-", "admin")  # the issuer's subject: no user list here
    assert [user for user, _ in started(server)] == [echo[0]["user"]]
