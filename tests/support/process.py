"""Run the real ``ostiary`` command: a server on a free loopback port, and admin commands."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

OSTIARY = str(Path(sys.executable).parent / "ostiary")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    issuer: str
    data_dir: Path
    database: str
    admin_password: str
    process: subprocess.Popen[str]
    output: list[str]

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return ostiary_cli(*args, data_dir=self.data_dir, database=self.database, stdin=stdin)

    def add_client(self, *args: str) -> tuple[str, str | None]:
        """``ostiary client add``; returns (client_id, client_secret or None)."""
        out = self.cli("client", "add", *args)
        assert out.returncode == 0, out.stderr
        client_id = re.search(r"client_id: (\S+)", out.stdout)
        secret = re.search(r"client_secret: (\S+)", out.stdout)
        assert client_id is not None
        return client_id.group(1), secret.group(1) if secret else None


def ostiary_cli(
    *args: str, data_dir: Path, database: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OSTIARY_DATA_DIR": str(data_dir)}
    if database:
        env["OSTIARY_DATABASE"] = database
    return subprocess.run(
        [OSTIARY, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


@contextmanager
def running_server(
    data_dir: Path,
    database: str | None = None,
    *extra: str,
    ready_path: str = "/.well-known/oauth-authorization-server",
    port: int | None = None,
    command: str = "serve",
) -> Iterator[RunningServer]:
    """Start ``ostiary serve`` (or ``command``: ``gateway``) and wait until its metadata
    answers; stop it afterwards."""
    port = port or free_port()
    env = {**os.environ, "OSTIARY_DATA_DIR": str(data_dir)}
    database = database or f"sqlite:///{data_dir / 'ostiary.sqlite3'}"
    env["OSTIARY_DATABASE"] = database
    proc = subprocess.Popen(
        [OSTIARY, command, "--port", str(port), "--log-level", "warning", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    issuer = f"http://127.0.0.1:{port}"
    drain: threading.Thread | None = None
    try:
        banner = _wait_ready(proc, issuer + ready_path)
        match = re.search(r"shown only this once\):\n\s+(\S+)", banner)
        output = [banner]
        drain = threading.Thread(target=_drain, args=(proc, output), daemon=True)
        drain.start()
        yield RunningServer(
            issuer, data_dir, database, match.group(1) if match else "", proc, output
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            if drain is not None:
                drain.join(timeout=5)
            proc.stdout.close()


def _wait_ready(proc: subprocess.Popen[str], ready_url: str) -> str:
    """Read the banner, then poll the metadata URL (30 s at most)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited early:\n{''.join(lines)}")
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    banner = "".join(lines)
    while time.monotonic() < deadline:
        try:
            httpx.get(ready_url, timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError(f"server did not answer:\n{banner}")
    return banner


def _drain(proc: subprocess.Popen[str], into: list[str]) -> None:
    """Keep reading the server's output so its pipe never fills."""
    assert proc.stdout is not None
    for line in proc.stdout:
        into.append(line)
