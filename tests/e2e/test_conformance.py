"""The official MCP conformance suite's authorization-server scenarios, against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.process import RunningServer, free_port, running_server

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


def run_suite(
    tmp_path: Path, server: RunningServer, callback_port: int, client_id: str | None
) -> tuple[str, str]:
    """Run the suite's authorization-server scenarios; (report, stdout). With no
    ``client_id`` the suite registers its own client at ``registration_endpoint``."""
    approve = f"{sys.executable} {ROOT / 'scripts/conformance_approve.py'}"
    env = {
        **os.environ,
        "CONFORMANCE_CALLBACK_PORT": str(callback_port),
        "CONFORMANCE_AUTHORIZE_CMD": approve,
        "CONFORMANCE_RESULTS": str(tmp_path / "results"),
        "OSTIARY_APPROVE_USER": "admin",
        "OSTIARY_APPROVE_PASSWORD": server.admin_password,
    }
    env.pop("CONFORMANCE_CLIENT_ID", None)
    if client_id is not None:
        env["CONFORMANCE_CLIENT_ID"] = client_id
    result = subprocess.run(
        ["bash", str(conformance_script()), "server", server.issuer],
        capture_output=True,
        text=True,
        env=env,
        timeout=540,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    return report, result.stdout


def assert_both_scenarios_pass(report: str, stdout: str) -> None:
    lines = stdout.strip().splitlines()
    assert lines[-1] == "2 passed, 0 failed", report
    assert any(line.startswith("PASS authorization-code-grant") for line in lines), report
    assert any(line.startswith("PASS authorization-server-metadata") for line in lines), report
    assert "warnings:" not in stdout, report  # the runner lists warning checks so


def assert_cimd_check_succeeds(tmp_path: Path) -> None:
    """The suite's ``client_id_metadata_document_supported`` check (a WARNING without it)."""
    checks = [
        check
        for path in (tmp_path / "results").glob("**/checks.json")
        for check in json.loads(path.read_text())
    ]
    statuses = {c["id"]: c["status"] for c in checks}
    assert statuses.get("authorization-server-metadata-cimd") == "SUCCESS", statuses
    assert all(status == "SUCCESS" for status in statuses.values()), statuses


@pytest.mark.conformance
@pytest.mark.timeout(600)
def test_authorization_server_scenarios_pass(tmp_path: Path) -> None:
    conformance_script()
    callback_port = free_port()
    with running_server(tmp_path / "data") as server:
        client_id, _ = server.add_client(
            "--name", "Conformance", "--redirect-uri", f"http://127.0.0.1:{callback_port}/callback"
        )
        report, stdout = run_suite(tmp_path, server, callback_port, client_id)
    assert_both_scenarios_pass(report, stdout)
    assert_cimd_check_succeeds(tmp_path)


@pytest.mark.conformance
@pytest.mark.timeout(600)
def test_authorization_server_scenarios_pass_with_dynamic_registration(tmp_path: Path) -> None:
    """No pre-registered client: the suite registers one by RFC 7591 and runs the flow with it."""
    conformance_script()
    callback_port = free_port()
    with running_server(tmp_path / "data") as server:
        report, stdout = run_suite(tmp_path, server, callback_port, None)
        listed = server.cli("client", "list").stdout
    assert_both_scenarios_pass(report, stdout)
    assert "registered client " in report and " by DCR" in report, report
    (line,) = listed.splitlines()
    client_id, name, kind, redirects = line.split("\t")
    assert f"registered client {client_id} by DCR" in report
    assert (name, kind) == ("mcp-conformance", "public, dynamic")
    assert redirects == f"http://127.0.0.1:{callback_port}/callback"


CLIENT_SCENARIOS = 22


@pytest.mark.conformance
@pytest.mark.timeout(900)
def test_client_scenarios_pass(tmp_path: Path) -> None:
    """All client scenarios of the suite, with ``ostiary call URL test-tool`` as the client."""
    command = f"{sys.executable} {ROOT / 'scripts/conformance_client.py'}"
    env = {**os.environ, "CONFORMANCE_RESULTS": str(tmp_path / "results")}
    for name in ("CONFORMANCE_SCENARIOS", "CONFORMANCE_ONLY", "CONFORMANCE_SKIP"):
        env.pop(name, None)
    result = subprocess.run(
        ["bash", str(conformance_script()), "client", command],
        capture_output=True,
        text=True,
        env=env,
        timeout=840,
    )
    report = result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f"{CLIENT_SCENARIOS} passed, 0 failed", report
    assert sum(line.startswith("PASS auth/") for line in lines) == CLIENT_SCENARIOS, report
    assert result.returncode == 0, report
