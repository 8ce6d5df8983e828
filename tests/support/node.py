"""Node.js programs the tests run: the conformance suite, MCP clients and servers from elsewhere.

Each npm package is installed once, at a pinned version, into its own folder of a cache
(``OSTIARY_TEST_CACHE``, default ``~/.cache/ostiary-tests``) with ``npm install --prefix``;
a half-finished install is never reused. Node itself is the one on ``PATH`` when it is at
least ``NODE_MAJOR``, else the npm package ``node-linux-<arch>`` at ``NODE_VERSION``, installed
the same way. A missing ``npm`` or a failed install fails the test: these tools are required.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from filelock import FileLock

NODE_MAJOR = 22
NODE_VERSION = "22.23.3"
_lock = threading.Lock()


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "ostiary-tests"
    return Path(os.environ.get("OSTIARY_TEST_CACHE", default))


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm not found: install Node.js and npm (apt-get install npm)", pytrace=False)
    return npm


def npm_install(spec: str) -> Path:
    """``spec`` (``name@version``) installed into the cache; its ``node_modules`` folder."""
    folder = cache_dir() / spec.replace("/", "+")
    done = folder / ".installed"
    folder.parent.mkdir(parents=True, exist_ok=True)
    # one install at a time, across threads and the test run's worker processes
    with _lock, FileLock(str(folder) + ".lock", timeout=900):
        if not done.exists():
            temporary = folder.with_name(folder.name + f".tmp{os.getpid()}")
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir(parents=True)
            command = [_npm(), "install", "--prefix", str(temporary), "--no-audit", "--no-fund"]
            result = subprocess.run(
                [*command, "--loglevel=error", spec],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if result.returncode != 0:
                shutil.rmtree(temporary, ignore_errors=True)
                pytest.fail(f"npm install {spec} failed:\n{result.stderr}", pytrace=False)
            (temporary / ".installed").write_text(spec)
            shutil.rmtree(folder, ignore_errors=True)
            temporary.rename(folder)
    return folder / "node_modules"


def _major(node: str) -> int:
    result = subprocess.run(
        [node, "-p", "process.versions.node.split('.')[0]"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(result.stdout.strip()) if result.returncode == 0 else 0


def node() -> str:
    """A node executable of at least ``NODE_MAJOR``."""
    found = shutil.which("node")
    if found is not None and _major(found) >= NODE_MAJOR:
        return found
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    if arch is None:
        pytest.fail(f"no node >= {NODE_MAJOR} for {platform.machine()}", pytrace=False)
    modules = npm_install(f"node-linux-{arch}@{NODE_VERSION}")
    return str(modules / f"node-linux-{arch}" / "bin" / "node")
