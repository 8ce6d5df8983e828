"""Redirect URIs a client may register (OAuth 2.1 §2.3.1, RFC 7591 §3.2.2)."""

from __future__ import annotations

import pytest

from ostiary.core.errors import OAuthError
from ostiary.core.registration import (
    InvalidClientMetadata,
    InvalidRedirectUri,
    check_redirect_uri,
)


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("https://app.example.com/cb", id="https"),
        pytest.param("https://app.example.com:8443/cb?tenant=1", id="https-port-and-query"),
        pytest.param("http://127.0.0.1:1234/cb", id="http-ipv4-loopback"),
        pytest.param("http://[::1]/cb", id="http-ipv6-loopback"),
        pytest.param("http://localhost:8080/callback", id="http-localhost"),
    ],
)
def test_acceptable_redirect_uris(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        pytest.param("https://app.example.com/c b", "forbidden characters", id="space"),
        pytest.param("https://app.example.com/cb\n", "forbidden characters", id="newline"),
        pytest.param("https://app.example.com/\x7f", "forbidden characters", id="delete"),
        pytest.param("https://*.example.com/cb", "forbidden characters", id="wildcard"),
        pytest.param("https://[::1/cb", "malformed", id="unbalanced-bracket"),
        pytest.param("https://app.example.com:99999/cb", "malformed", id="port-out-of-range"),
        pytest.param("https://app.example.com/cb#frag", "fragment", id="fragment"),
        pytest.param("https://app.example.com/cb#", "fragment", id="empty-fragment"),
        pytest.param("http://app.example.com/cb", "https, or http on a loopback", id="plain-http"),
        pytest.param("https:///cb", "https, or http on a loopback", id="https-without-host"),
        pytest.param(
            "https://user@app.example.com/cb", "https, or http on a loopback", id="userinfo"
        ),
        pytest.param(
            "http://evil.com@127.0.0.1/cb", "https, or http on a loopback", id="loopback-userinfo"
        ),
        pytest.param("/cb", "https, or http on a loopback", id="relative"),
        pytest.param("myapp://cb", "https, or http on a loopback", id="custom-scheme"),
        pytest.param("javascript:alert(1)", "https, or http on a loopback", id="javascript"),
    ],
)
def test_unacceptable_redirect_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidRedirectUri, match=message) as caught:
        check_redirect_uri(uri)
    assert caught.value.error == "invalid_redirect_uri"
    assert caught.value.status_code == 400


def test_invalid_client_metadata_error() -> None:
    exc = InvalidClientMetadata("bad grant_types")
    assert isinstance(exc, OAuthError)
    assert (exc.error, exc.status_code) == ("invalid_client_metadata", 400)
