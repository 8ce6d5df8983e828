#!/usr/bin/env python3
"""Bootstrap Ostiary's environment, then run it: ``python3 run.py serve`` or ``… test``.

The only requirement is Python 3.11+. The first run creates ``.venv`` beside this file and installs
the hash-pinned lock (``requirements/run.lock`` to serve, ``requirements/dev.lock`` to test);
later runs reuse it until the lock changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env(lock_name: str) -> None:
    """Create the virtual environment and install ``lock_name`` unless already done."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file must explain itself on old Pythons
        sys.exit("Ostiary needs Python 3.11 or newer")
    lock = ROOT / "requirements" / lock_name
    project = (ROOT / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(lock.read_bytes() + project).hexdigest()
    stamp = VENV / f".installed-{lock_name}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    print(f"installing {lock.relative_to(ROOT)} into .venv", file=sys.stderr)
    subprocess.run([*pip, "install", "--require-hashes", "-r", str(lock)], check=True)
    subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "ostiary"}:
        print(__doc__.strip(), file=sys.stderr)
        usage = "usage: python3 run.py serve [OPTIONS] | test [PYTEST ARGS] | ostiary ARGS"
        print(f"\n{usage}", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "test":
        ensure_env("dev.lock")
        script = ROOT / "scripts" / "test.py"
        return subprocess.call([str(PYTHON), str(script), *rest], cwd=ROOT)
    if not (VENV / ".installed-dev.lock").exists():
        ensure_env("run.lock")
    exe = BIN / "ostiary"
    args = [str(exe), *(["serve"] if command == "serve" else []), *rest]
    if os.name == "nt":
        return subprocess.call(args)
    os.execv(args[0], args)  # noqa: S606 - replace this process so signals reach the server


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
