"""The conformance suite's ``dns-rebinding-protection`` scenario against the protected ``/mcp``.

The scenario (``@modelcontextprotocol/conformance``) POSTs ``initialize`` twice: once with
``Host: evil.example.com`` and ``Origin: http://evil.example.com`` (it wants a 4xx), once with
this server's own host and origin (it wants a 2xx). It sends no token, and a protected endpoint
rightly answers that second request with 401; so the suite talks to ``ostiary serve`` through
a loopback proxy that adds ``Authorization: Bearer <a real token>`` to every request and
changes nothing else. The server's public URL is the proxy's, so the token's audience, the
allowed origin and the allowed hosts are the ones the suite sees.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.flows import CallbackListener, sign_in
from tests.support.header_proxy import header_proxy
from tests.support.node import node, npm_install
from tests.support.process import free_port, running_server

SUITE = "@modelcontextprotocol/conformance@0.1.16"


def run_scenario(url: str, results: Path) -> dict[str, Any]:
    """The suite's verdict per check id, from its ``checks.json``."""
    modules = npm_install(SUITE)
    cli = modules / "@modelcontextprotocol/conformance/dist/index.js"
    command = [node(), str(cli), "server", "--url", url]
    command += ["--scenario", "dns-rebinding-protection", "-o", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    (checks_file,) = results.glob("**/checks.json")
    checks = json.loads(checks_file.read_text())
    report = done.stdout + done.stderr
    return {c["id"]: (c["status"], c.get("errorMessage"), c.get("details"), report) for c in checks}


@pytest.mark.conformance
@pytest.mark.timeout(600)
def test_dns_rebinding_scenario_passes_with_a_token(
    tmp_path: Path, callback: CallbackListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_port = free_port()
    with header_proxy(server_port, "Authorization") as proxy:
        public = f"http://127.0.0.1:{proxy.port}"
        monkeypatch.setenv("OSTIARY_PUBLIC_URL", public)
        with running_server(tmp_path / "as", port=server_port) as server:
            token = sign_in(server, callback, issuer=public)["access_token"]
            proxy.value = f"Bearer {token}"
            checks = run_scenario(f"{public}/mcp", tmp_path / "with-token")

            rejected = checks["localhost-host-rebinding-rejected"]
            accepted = checks["localhost-host-valid-accepted"]
            assert rejected[0] == "SUCCESS", rejected
            assert rejected[2]["statusCode"] == 403, rejected
            assert accepted[0] == "SUCCESS", accepted
            assert accepted[2]["statusCode"] == 200, accepted
            # the proxy passed the suite's Host through untouched, and added the token
            heads = b"".join(proxy.requests).lower()
            assert b"host: evil.example.com" in heads
            assert f"host: 127.0.0.1:{proxy.port}".encode() in heads

            # a foreign Host alone, with the real token and no Origin at all, is refused too
            answer = httpx.post(
                f"{public}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Host": "evil.example.com", "Accept": "application/json"},
            )
            assert answer.status_code == 403, answer.text
            assert answer.json()["error_description"] == "host not allowed"
