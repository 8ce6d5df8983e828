"""Our client against protected MCP servers nobody here wrote.

Two servers, each on a real loopback port with a small authorization server of its own
(``tests/support/interop_servers.py``):

* the official ``mcp`` SDK's ``MCPServer``, protected by the SDK's own ``AuthSettings`` and a
  ``TokenVerifier`` over opaque tokens: the SDK serves its protected-resource metadata and
  its 401/403 challenges itself;
* FastMCP with its ``JWTVerifier`` (JWKS, issuer, audience) behind ``RemoteAuthProvider``,
  the authorization server issuing RS256 JWTs.

Each test drives the real command line (``ostiary tools``/``ostiary call`` in a subprocess,
``--browser follow`` because these authorization servers approve at once) with a file store
in the test's folder, and asserts on the authorization server's side what the client sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.interop_servers import (
    JwtTokens,
    MiniAuthServer,
    OpaqueTokens,
    fastmcp_app,
    s256,
    sdk_mcp_app,
    serving,
)
from tests.support.process import OSTIARY, free_port

SCOPES = ["notes:read", "notes:write"]  # both servers require both


@dataclass
class Rig:
    """One MCP server, its authorization server, and a client folder for the command line."""

    kind: str
    mcp_url: str
    auth: MiniAuthServer
    client_dir: Path

    def ostiary(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "OSTIARY_CLIENT_STORE": "file",
            "OSTIARY_CLIENT_DIR": str(self.client_dir),
        }
        command = [OSTIARY, *args[:1], self.mcp_url, *args[1:], "--browser", "follow"]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=90)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr}"
        return done

    def grant_types(self) -> list[str]:
        return [form["grant_type"] for form in self.auth.token_requests]


@pytest.fixture
def sdk_rig(tmp_path: Path) -> Iterator[Rig]:
    as_port, mcp_port = free_port(), free_port()
    issuer, mcp_url = f"http://127.0.0.1:{as_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    tokens = OpaqueTokens()
    auth = MiniAuthServer(issuer, mcp_url, tokens, scopes=SCOPES)
    with (
        serving(auth.app(), as_port),
        serving(sdk_mcp_app(issuer, mcp_url, tokens, SCOPES), mcp_port),
    ):
        yield Rig("sdk", mcp_url, auth, tmp_path / "client")


@pytest.fixture
def fastmcp_rig(tmp_path: Path) -> Iterator[Rig]:
    as_port, mcp_port = free_port(), free_port()
    # FastMCP types authorization_servers as pydantic URLs, which give a path-less issuer a
    # trailing slash in its PRM; an issuer stated that way (as Auth0's are) matches exactly.
    issuer, base_url = f"http://127.0.0.1:{as_port}/", f"http://127.0.0.1:{mcp_port}"
    tokens = JwtTokens(issuer)
    auth = MiniAuthServer(issuer, f"{base_url}/mcp", tokens, scopes=SCOPES, jwks=tokens.jwks())
    with (
        serving(auth.app(), as_port),
        serving(fastmcp_app(issuer, base_url, SCOPES), mcp_port),
    ):
        yield Rig("fastmcp", f"{base_url}/mcp", auth, tmp_path / "client")


def assert_signed_in_properly(rig: Rig) -> None:
    """One registration, one authorization and one code exchange, each as the specs ask."""
    [registration] = rig.auth.registrations
    assert registration["application_type"] == "native"
    assert registration["token_endpoint_auth_method"] == "none"
    assert set(registration["grant_types"]) == {"authorization_code", "refresh_token"}
    assert registration["response_types"] == ["code"]
    assert registration["client_name"] == "Ostiary"
    assert all(uri.startswith("http://127.0.0.1") for uri in registration["redirect_uris"])

    [authorization] = rig.auth.authorizations
    assert authorization["response_type"] == "code"
    assert authorization["code_challenge_method"] == "S256"
    assert authorization["resource"] == rig.mcp_url
    assert len(authorization["state"]) >= 16
    assert set(authorization["scope"].split()) == set(rig.auth.scopes)

    [exchange] = rig.auth.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["resource"] == rig.mcp_url
    assert exchange["redirect_uri"] == authorization["redirect_uri"]
    assert s256(exchange["code_verifier"]) == authorization["code_challenge"]


@pytest.fixture(params=["sdk", "fastmcp"])
def rig(request: pytest.FixtureRequest) -> Rig:
    fixture: Rig = request.getfixturevalue(f"{request.param}_rig")
    return fixture


CALLS = {
    "sdk": ("add", "--arg", "a=2", "--arg", "b=40"),
    "fastmcp": ("reverse", "--arg", "text=abc"),
}
EXPECTED = {"sdk": "42", "fastmcp": "cba"}


def test_sdk_server_tools_and_call(sdk_rig: Rig) -> None:
    listed = sdk_rig.ostiary("tools", "--json")
    assert {tool["name"] for tool in json.loads(listed.stdout)} == {"add", "shout"}
    assert_signed_in_properly(sdk_rig)

    called = sdk_rig.ostiary("call", "add", "--arg", "a=2", "--arg", "b=40")
    assert called.stdout.strip() == "42"
    shouted = sdk_rig.ostiary("call", "shout", "--arg", "text=hello")
    assert shouted.stdout.strip() == "HELLO"
    assert len(sdk_rig.auth.authorizations) == 1, "the stored token is reused"
    assert sdk_rig.grant_types() == ["authorization_code"]


def test_fastmcp_server_tools_and_call(fastmcp_rig: Rig) -> None:
    listed = fastmcp_rig.ostiary("tools", "--json")
    assert {tool["name"] for tool in json.loads(listed.stdout)} == {"reverse", "whoami"}
    assert_signed_in_properly(fastmcp_rig)

    called = fastmcp_rig.ostiary("call", "reverse", "--arg", "text=interop")
    assert called.stdout.strip() == "poretni"
    who = fastmcp_rig.ostiary("call", "whoami")
    client_id, *scopes = who.stdout.split()
    assert client_id in fastmcp_rig.auth.clients
    assert set(scopes) == set(SCOPES)
    assert len(fastmcp_rig.auth.authorizations) == 1
    assert fastmcp_rig.grant_types() == ["authorization_code"]


def test_expired_access_token_is_refreshed_without_a_new_authorization(rig: Rig) -> None:
    """expires_in 2 s, far inside the client's 60 s skew: every use is preceded by a refresh.

    The refresh tokens rotate; each refresh must present the newest one, name the MCP server as
    ``resource``, and never lead to a new authorization or registration.
    """
    rig.auth.access_lifetime = 2
    rig.ostiary("tools")
    signed_in = len(rig.auth.token_requests)
    time.sleep(2.5)  # every token issued so far is now expired at the MCP server too

    called = rig.ostiary("call", *CALLS[rig.kind])
    assert called.stdout.strip() == EXPECTED[rig.kind]
    grants = rig.grant_types()
    assert grants[0] == "authorization_code"
    assert grants[1:] == ["refresh_token"] * (len(grants) - 1)
    assert len(grants) > signed_in, "the second command refreshed"
    for answer, request in zip(rig.auth.token_responses, rig.auth.token_requests[1:], strict=False):
        assert request["refresh_token"] == answer["refresh_token"], "the newest refresh token"
        assert request["resource"] == rig.mcp_url
        assert request["client_id"] == rig.auth.token_requests[0]["client_id"]
    assert len(rig.auth.authorizations) == 1, "no new authorization"
    assert len(rig.auth.registrations) == 1, "no new registration"
    if isinstance(rig.auth.minter, OpaqueTokens):  # the MCP server saw the refreshed token
        assert rig.auth.minter.presented[-1] == rig.auth.token_responses[-1]["access_token"]


def test_fastmcp_insufficient_scope_leads_to_step_up(fastmcp_rig: Rig) -> None:
    """FastMCP requires both scopes; asked for one, its 403 names both and the client widens."""
    listed = fastmcp_rig.ostiary("tools", "--json", "--scope", "notes:read")
    assert {tool["name"] for tool in json.loads(listed.stdout)} == {"reverse", "whoami"}

    first, second = fastmcp_rig.auth.authorizations
    assert first["scope"] == "notes:read"
    assert set(second["scope"].split()) == {"notes:read", "notes:write"}
    assert second["resource"] == fastmcp_rig.mcp_url
    assert second["state"] != first["state"]
    assert second["code_challenge"] != first["code_challenge"]
    assert fastmcp_rig.grant_types() == ["authorization_code", "authorization_code"]
    assert len(fastmcp_rig.auth.registrations) == 1

    who = fastmcp_rig.ostiary("call", "whoami")
    assert set(who.stdout.split()[1:]) == {"notes:read", "notes:write"}
    assert len(fastmcp_rig.auth.authorizations) == 2, "the widened token is kept"


def test_sdk_insufficient_scope_without_scope_widens_to_scopes_supported(sdk_rig: Rig) -> None:
    """The SDK's 403 names no scope; the PRM's ``scopes_supported`` says what to ask for."""
    sdk_rig.ostiary("tools", "--scope", "notes:read")
    first, second = sdk_rig.auth.authorizations
    assert first["scope"] == "notes:read"
    assert set(second["scope"].split()) == set(SCOPES)
