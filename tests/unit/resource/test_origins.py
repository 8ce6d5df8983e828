"""The default ``Host`` allow-list: loopback spellings of a loopback resource, else none."""

from __future__ import annotations

import pytest

from ostiary.resource.origins import allowed_host_set, default_allowed_hosts, host_allowed


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            "http://127.0.0.1:8000/mcp",
            {"localhost:8000", "127.0.0.1:8000", "[::1]:8000"},
        ),
        (
            "http://localhost/mcp",
            {"localhost", "127.0.0.1", "[::1]", "localhost:80", "127.0.0.1:80", "[::1]:80"},
        ),
        (
            "https://[::1]/mcp",
            {"localhost", "127.0.0.1", "[::1]", "localhost:443", "127.0.0.1:443", "[::1]:443"},
        ),
        ("https://mcp.example.com/mcp", None),
        ("https://10.0.0.5:8443/mcp", None),
    ],
)
def test_default_allowed_hosts(resource: str, expected: set[str] | None) -> None:
    got = default_allowed_hosts(resource)
    assert (None if got is None else set(got)) == expected


def test_explicit_hosts_replace_the_default_and_star_turns_the_check_off() -> None:
    explicit = allowed_host_set("http://127.0.0.1:8000/mcp", ["MCP.example.com"])
    assert explicit == frozenset({"mcp.example.com"})
    assert not host_allowed("127.0.0.1:8000", explicit)
    assert host_allowed("mcp.example.com", explicit)
    assert allowed_host_set("http://127.0.0.1:8000/mcp", ["*"]) is None
    assert host_allowed(None, None)
    assert not host_allowed(None, explicit)
