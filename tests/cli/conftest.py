"""Fixtures for the CLI tier: a click runner with a clean environment and a data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where the SQLite file and the server secret go (created by the first command)."""
    return tmp_path / "data"


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    """Every ``OSTIARY_*`` variable of the outer environment unset, the data folder set."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OSTIARY_")}
    env["OSTIARY_DATA_DIR"] = str(data_dir)
    return CliRunner(env=env)
