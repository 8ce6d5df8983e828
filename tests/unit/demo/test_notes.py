"""The demo notes server's identity, as clients show it."""

from __future__ import annotations

import ostiary
from ostiary.demo import notes


def test_the_server_names_itself_and_its_version() -> None:
    """``serverInfo.version`` was empty: the MCP Inspector showed "Version —"."""
    server, _ = notes.build()
    assert server.name == "Ostiary notes"
    assert server.version == ostiary.__version__
