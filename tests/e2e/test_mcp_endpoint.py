"""``ostiary serve``'s protected ``/mcp`` endpoint, driven by the official ``mcp`` SDK client.

The demo notes server runs behind ``ProtectedMCP`` on the authorization server's origin; tokens
come from the real login and consent flow (httpx). ``--trust-issuer`` runs a second server as a
resource server only, trusting the first one by JWKS or by introspection. SQLite only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from tests.support.flows import CallbackListener, sign_in
from tests.support.process import RunningServer, free_port, running_server

PRM = "/.well-known/oauth-protected-resource/mcp"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "as") as running:
        yield running


def bearer(token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10)


async def list_and_call(url: str, token: str) -> tuple[list[str], Any]:
    """``initialize``, ``tools/list`` and ``tools/call list_notes`` with the SDK's client."""
    async with (
        bearer(token) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.server_info.name == "Ostiary notes"
        tools = await session.list_tools()
        called = await session.call_tool("list_notes", {})
    return [t.name for t in tools.tools], called


def call(url: str, token: str, name: str, arguments: dict[str, Any]) -> httpx.Response:
    """One stateless-looking ``tools/call`` with raw httpx (after an ``initialize``)."""
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
    }
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call"}
    body["params"] = {"name": name, "arguments": arguments}
    return httpx.post(url, json=body, headers=headers, timeout=10)


def test_metadata_names_the_issuer_and_no_token_is_401(server: RunningServer) -> None:
    document = httpx.get(f"{server.issuer}{PRM}").json()
    assert document["resource"] == f"{server.issuer}/mcp"
    assert document["authorization_servers"] == [server.issuer]
    assert "resources:write" in document["scopes_supported"]
    answer = httpx.post(f"{server.issuer}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert f'resource_metadata="{server.issuer}{PRM}"' in challenge
    # the authorization server still answers on the same origin
    assert httpx.get(f"{server.issuer}/.well-known/oauth-authorization-server").status_code == 200


async def test_sdk_client_lists_and_calls_tools_and_write_needs_step_up(
    server: RunningServer, callback: CallbackListener
) -> None:
    token = sign_in(server, callback)["access_token"]
    url = f"{server.issuer}/mcp"
    names, called = await list_and_call(url, token)
    assert set(names) == {"list_notes", "read_note", "add_note", "delete_note"}
    assert called.is_error is False
    async with (
        bearer(token) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        with pytest.raises(MCPError):
            await session.call_tool("delete_note", {"note_id": 1})
    refused = call(url, token, "delete_note", {"note_id": 1})
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="tools:execute resources:write"' in challenge


async def test_write_scope_adds_and_reads_a_note_as_the_caller(
    server: RunningServer, callback: CallbackListener
) -> None:
    token = sign_in(server, callback, scope="tools:execute resources:write")["access_token"]
    url = f"{server.issuer}/mcp"
    async with (
        bearer(token) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        added = await session.call_tool("add_note", {"title": "t", "body": "hello"})
        assert added.is_error is False, added
        note_id = added.structured_content["result"]
        listed = await session.call_tool("list_notes", {})
        notes = listed.structured_content["result"]
        assert notes == [{"id": note_id, "title": "t", "author": notes[0]["author"]}]
        assert notes[0]["author"]  # the verified subject, read inside the tool
        resource = await session.read_resource(f"note://{note_id}")
        assert "hello" in resource.contents[0].text  # type: ignore[union-attr]
        deleted = await session.call_tool("delete_note", {"note_id": note_id})
        assert deleted.is_error is False


def test_revoking_the_grant_fails_the_next_call_within_a_second(
    server: RunningServer, callback: CallbackListener
) -> None:
    issued = sign_in(server, callback)
    url = f"{server.issuer}/mcp"
    names, _ = asyncio.run(list_and_call(url, issued["access_token"]))
    assert "list_notes" in names
    revoked = httpx.post(
        f"{server.issuer}/revoke",
        data={"token": issued["access_token"], "client_id": issued["client_id"]},
    )
    assert revoked.status_code == 200
    assert_refused_within_a_second(url, issued["access_token"])


def assert_refused_within_a_second(url: str, access_token: str) -> None:
    started = time.monotonic()
    while True:
        answer = call(url, access_token, "list_notes", {})
        if answer.status_code == 401:
            break
        assert time.monotonic() - started < 1.5, answer.status_code
        time.sleep(0.05)
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_an_operator_revocation_in_another_process_reaches_mcp_within_a_second(
    server: RunningServer, callback: CallbackListener
) -> None:
    issued = sign_in(server, callback)
    url = f"{server.issuer}/mcp"
    names, _ = asyncio.run(list_and_call(url, issued["access_token"]))
    assert "list_notes" in names
    listed = server.cli("grant", "list", "--client", issued["client_id"])
    assert listed.returncode == 0, listed.stderr
    (grant_id,) = [line.split("\t")[0] for line in listed.stdout.splitlines() if line.strip()]
    revoked = server.cli("grant", "revoke", grant_id)
    assert revoked.returncode == 0, revoked.stderr
    assert_refused_within_a_second(url, issued["access_token"])


@pytest.mark.parametrize("mode", ["jwks", "introspection"])
def test_trust_issuer_accepts_the_external_servers_tokens(
    tmp_path: Path, callback: CallbackListener, mode: str
) -> None:
    port = free_port()
    rs_mcp = f"http://127.0.0.1:{port}/mcp"
    with running_server(tmp_path / "as", None, "--resource", rs_mcp) as issuer_server:
        extra = ["--trust-issuer", issuer_server.issuer, "--allow-http-loopback-issuer"]
        if mode == "introspection":
            rs_id, rs_secret = issuer_server.add_client(
                "--name", "RS", "--redirect-uri", "https://rs.example/cb", "--confidential"
            )
            assert rs_secret is not None
            secret_file = tmp_path / "rs.secret"
            secret_file.write_text(rs_secret)
            extra += ["--introspection", "--client-id", rs_id]
            extra += ["--client-secret-file", str(secret_file)]
        with running_server(tmp_path / "rs", None, *extra, ready_path=PRM, port=port) as rs:
            assert rs.issuer == f"http://127.0.0.1:{port}"
            document = httpx.get(f"{rs.issuer}{PRM}").json()
            assert document["authorization_servers"] == [issuer_server.issuer]
            assert httpx.get(f"{rs.issuer}/login").status_code == 404
            theirs = sign_in(issuer_server, callback, resource=rs_mcp)["access_token"]
            names, called = asyncio.run(list_and_call(rs_mcp, theirs))
            assert "delete_note" in names
            assert called.is_error is False
            # a token for the issuer's own /mcp is not for this resource
            own = sign_in(issuer_server, callback)["access_token"]
            assert call(rs_mcp, own, "list_notes", {}).status_code == 401


APP_MODULE = """
from mcp.server.mcpserver import MCPServer

app = MCPServer("Custom")


@app.tool()
def hello(name: str) -> str:
    return f"hello {name}"
"""
POLICY = """
[tools]
hello = ["greetings:send"]
"""


def test_serve_runs_the_operators_app_under_the_operators_policy(
    tmp_path: Path, callback: CallbackListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_mcp_app.py").write_text(APP_MODULE)
    (tmp_path / "policy.toml").write_text(POLICY)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    extra = ("--app", "my_mcp_app:app", "--policy", str(tmp_path / "policy.toml"))
    with running_server(tmp_path / "as", None, *extra) as server:
        issued = sign_in(server, callback)
        url = f"{server.issuer}/mcp"

        async def listed() -> tuple[str, list[str]]:
            async with (
                bearer(issued["access_token"]) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                init = await session.initialize()
                tools = await session.list_tools()
            return init.server_info.name, [t.name for t in tools.tools]

        name, tools = asyncio.run(listed())
        assert (name, tools) == ("Custom", ["hello"])
        answer = call(url, issued["access_token"], "hello", {"name": "x"})
        assert answer.status_code == 403
        challenge = answer.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="tools:execute greetings:send"' in challenge
        # the policy's own scope is one the co-located authorization server offers and grants
        metadata = httpx.get(f"{server.issuer}/.well-known/oauth-authorization-server").json()
        assert "greetings:send" in metadata["scopes_supported"]
        wider = sign_in(server, callback, scope="tools:execute greetings:send")

        async def greeted() -> Any:
            async with (
                bearer(wider["access_token"]) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await session.call_tool("hello", {"name": "x"})

        result = asyncio.run(greeted())
        assert result.is_error is False
        assert result.structured_content == {"result": "hello x"}


def test_a_browser_client_on_an_allowed_origin_can_call_mcp(
    tmp_path: Path, callback: CallbackListener
) -> None:
    app_origin = "http://localhost:6274"
    with running_server(tmp_path / "as", None, "--allowed-origin", app_origin) as server:
        url = f"{server.issuer}/mcp"
        preflight = httpx.options(
            url,
            headers={
                "Origin": app_origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == app_origin
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        challenged = httpx.post(url, json=ping, headers={"Origin": app_origin})
        assert challenged.status_code == 401
        assert challenged.headers["access-control-allow-origin"] == app_origin
        assert "WWW-Authenticate" in challenged.headers["access-control-expose-headers"]
        token = sign_in(server, callback)["access_token"]
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "web", "version": "1"},
            },
        }
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Origin": app_origin,
        }
        opened = httpx.post(url, json=initialize, headers=headers, timeout=10)
        assert opened.status_code == 200, opened.text
        assert opened.headers["access-control-allow-origin"] == app_origin
        assert opened.headers["mcp-session-id"]
        assert "Mcp-Session-Id" in opened.headers["access-control-expose-headers"]
        elsewhere = {**headers, "Origin": "https://elsewhere.example"}
        assert httpx.post(url, json=initialize, headers=elsewhere).status_code == 403
