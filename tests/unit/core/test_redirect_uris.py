"""Redirect URI matching: exact, except any port on http loopback (RFC 8252 §7.3)."""

from __future__ import annotations

import pytest

from ostiary.core.redirect_uris import (
    find_redirect_uri,
    is_loopback,
    is_loopback_host,
    redirect_uri_matches,
)

LOOPBACK = "http://127.0.0.1:1234/cb"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param("http://127.0.0.1:1234/cb", True, id="ipv4"),
        pytest.param("http://127.0.0.1/cb", True, id="ipv4-no-port"),
        pytest.param("http://[::1]:1234/cb", True, id="ipv6"),
        pytest.param("http://localhost:1234/cb", True, id="localhost"),
        pytest.param("https://127.0.0.1:1234/cb", False, id="https-is-not-relaxed"),
        pytest.param("http://user@127.0.0.1:1234/cb", False, id="userinfo"),
        pytest.param("http://127.0.0.1:1234/cb#x", False, id="fragment"),
        pytest.param("http://127.0.0.2:1234/cb", False, id="other-ipv4"),
        pytest.param("http://127.0.0.1.evil.com/cb", False, id="lookalike-host"),
        pytest.param("http://127.0.0.1:99999/cb", False, id="port-out-of-range"),
        pytest.param("http://127.0.0.1:port/cb", False, id="port-not-a-number"),
        pytest.param("http://[::1/cb", False, id="unbalanced-bracket"),
    ],
)
def test_is_loopback(uri: str, expected: bool) -> None:
    assert is_loopback(uri) is expected


@pytest.mark.parametrize(
    ("requested", "registered", "expected"),
    [
        pytest.param("https://a.example/cb", "https://a.example/cb", True, id="exact"),
        pytest.param("http://127.0.0.1:5555/cb", LOOPBACK, True, id="loopback-other-port"),
        pytest.param("http://127.0.0.1/cb", LOOPBACK, True, id="loopback-no-port"),
        pytest.param(
            "http://[::1]:5555/cb", "http://[::1]:1234/cb", True, id="ipv6-loopback-other-port"
        ),
        pytest.param("http://127.0.0.1:5555/other", LOOPBACK, False, id="loopback-other-path"),
        pytest.param("http://127.0.0.1:5555/cb?x=1", LOOPBACK, False, id="loopback-extra-query"),
        pytest.param("http://localhost:5555/cb", LOOPBACK, False, id="loopback-other-host"),
        pytest.param("https://127.0.0.1:1234/cb", LOOPBACK, False, id="loopback-other-scheme"),
        pytest.param("http://u@127.0.0.1:5555/cb", LOOPBACK, False, id="loopback-userinfo"),
        pytest.param(
            "https://127.0.0.1:5555/cb",
            "https://127.0.0.1:1234/cb",
            False,
            id="https-loopback-port-not-relaxed",
        ),
        pytest.param("https://a.example:444/cb", "https://a.example/cb", False, id="port-added"),
        pytest.param("https://a.example/cb/", "https://a.example/cb", False, id="trailing-slash"),
        pytest.param("https://A.example/cb", "https://a.example/cb", False, id="host-case"),
        pytest.param(
            "https://a.example/cb/../evil", "https://a.example/cb", False, id="dot-segments"
        ),
    ],
)
def test_redirect_uri_matches(requested: str, registered: str, expected: bool) -> None:
    assert redirect_uri_matches(requested, registered) is expected


def test_find_redirect_uri_searches_every_registered_uri() -> None:
    registered = ["https://a.example/one", LOOPBACK]
    assert find_redirect_uri("https://a.example/one", registered)
    assert find_redirect_uri("http://127.0.0.1:9/cb", registered)
    assert not find_redirect_uri("https://a.example/two", registered)
    assert not find_redirect_uri("https://a.example/one", [])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("example.com", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
