"""The whole test suite: lint, types, import layers, then pytest (unit to end-to-end).

Run through ``python3 run.py test``. Required parts (PostgreSQL, Debian's chromium, npm for
the Node.js programs the end-to-end tests install) are checked first; a missing one stops the
run with a clear message instead of skipping tests.
Extra arguments go to pytest, which runs in ``OSTIARY_TEST_WORKERS`` processes (3; 0 for one).
After pytest, the MCP clients written elsewhere (``tests/e2e/test_js_clients.py``: the
TypeScript SDK, mcp-remote, the MCP Inspector, at pinned versions) get one line per client and
step, passed or failed; their screenshots are under ``artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("OSTIARY_CHROMIUM", "/usr/bin/chromium")
POSTGRES = os.environ.setdefault(
    "OSTIARY_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
JS_CLIENTS_REPORT = Path(
    os.environ.setdefault("OSTIARY_JS_CLIENTS_REPORT", str(ROOT / "artifacts" / "js-clients.txt"))
)


def step(title: str, args: list[str]) -> None:
    print(f"\n== {title}", flush=True)
    code = subprocess.call(args, cwd=ROOT)
    if code:
        sys.exit(f"FAILED: {title} (exit {code})")


def apt_install(package: str) -> None:
    """Install a Debian package when allowed (root with apt-get); the caller checks after."""
    if shutil.which("apt-get") and os.geteuid() == 0:
        print(f"== installing Debian's {package}", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)


def ensure_chromium() -> None:
    if not Path(CHROMIUM).exists():
        apt_install("chromium")
    if not Path(CHROMIUM).exists():
        sys.exit(
            f"MISSING: chromium at {CHROMIUM} (apt-get install chromium, or set OSTIARY_CHROMIUM)"
        )


def ensure_npm() -> None:
    if shutil.which("npm") is None:
        apt_install("npm")
    if shutil.which("npm") is None:
        sys.exit("MISSING: npm (apt-get install npm), needed to install the Node.js test tools")


def ensure_postgres() -> None:
    code = (
        "import asyncio, asyncpg, sys\n"
        "url = sys.argv[1].replace('postgresql+asyncpg://', 'postgresql://')\n"
        "asyncio.run(asyncpg.connect(url, timeout=5))\n"
    )
    if subprocess.call([sys.executable, "-c", code, POSTGRES], stderr=subprocess.DEVNULL):
        sys.exit(f"MISSING: PostgreSQL at {POSTGRES} (set OSTIARY_TEST_POSTGRES)")


def js_clients_summary() -> None:
    """The per-client, per-step lines the JS client tests wrote (none when not selected)."""
    if JS_CLIENTS_REPORT.exists():
        print("\n== MCP clients from elsewhere (pinned npm packages)", flush=True)
        print(JS_CLIENTS_REPORT.read_text(), end="", flush=True)


def main() -> None:
    ensure_postgres()
    ensure_chromium()
    ensure_npm()
    step("ruff", [str(BIN / "ruff"), "check", "."])
    step("ruff format", [str(BIN / "ruff"), "format", "--check", "."])
    step("mypy --strict", [str(BIN / "mypy")])
    step("import layers", [str(BIN / "lint-imports")])
    # Three worker processes, each taking whole files: the end-to-end tier mostly waits on
    # servers, browsers and subprocesses, so it overlaps well even on two cores.
    workers = os.environ.get("OSTIARY_TEST_WORKERS", "3")
    parallel = ["-n", workers, "--dist", "loadfile"] if workers != "0" else []
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *parallel]
    JS_CLIENTS_REPORT.unlink(missing_ok=True)
    try:
        step("pytest", [*pytest, *sys.argv[1:]])
    finally:
        js_clients_summary()


if __name__ == "__main__":
    main()
