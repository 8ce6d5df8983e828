"""The official MCP conformance suite's authorization-server scenarios, against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.process import free_port, running_server

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(os.environ.get("OSTIARY_CONFORMANCE", ROOT.parent / "shared/tools/conformance.sh"))


def conformance_script() -> Path:
    """The runner; required in CI, where a missing one fails instead of skipping."""
    if SCRIPT.exists():
        return SCRIPT
    message = f"conformance runner not found at {SCRIPT} (set OSTIARY_CONFORMANCE)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.conformance
@pytest.mark.timeout(600)
def test_authorization_server_scenarios_pass(tmp_path: Path) -> None:
    script = conformance_script()
    callback_port = free_port()
    with running_server(tmp_path / "data") as server:
        client_id, _ = server.add_client(
            "--name", "Conformance", "--redirect-uri", f"http://127.0.0.1:{callback_port}/callback"
        )
        approve = f"{sys.executable} {ROOT / 'scripts/conformance_approve.py'}"
        env = {
            **os.environ,
            "CONFORMANCE_CLIENT_ID": client_id,
            "CONFORMANCE_CALLBACK_PORT": str(callback_port),
            "CONFORMANCE_AUTHORIZE_CMD": approve,
            "CONFORMANCE_RESULTS": str(tmp_path / "results"),
            "OSTIARY_APPROVE_USER": "admin",
            "OSTIARY_APPROVE_PASSWORD": server.admin_password,
        }
        result = subprocess.run(
            ["bash", str(script), "server", server.issuer],
            capture_output=True,
            text=True,
            env=env,
            timeout=540,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "2 passed, 0 failed", report
    assert any(line.startswith("PASS authorization-code-grant") for line in lines), report
    assert any(line.startswith("PASS authorization-server-metadata") for line in lines), report
