"""Endpoint outputs: the token response body and redirect URLs."""

from __future__ import annotations

import pytest

from ostiary.core.responses import TokenResponse, redirect_url


def test_token_response_json_with_refresh_token() -> None:
    body = TokenResponse("at", 3600, "tools:read", refresh_token="rt").to_json()
    assert body == {
        "access_token": "at",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "tools:read",
        "refresh_token": "rt",
    }


def test_token_response_json_without_refresh_token() -> None:
    body = TokenResponse("at", 60, "").to_json()
    assert "refresh_token" not in body
    assert body["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("uri", "params", "expected"),
    [
        pytest.param(
            "https://a.example/cb", {"code": "c"}, "https://a.example/cb?code=c", id="plain"
        ),
        pytest.param(
            "https://a.example/cb?x=1",
            {"code": "c"},
            "https://a.example/cb?x=1&code=c",
            id="keeps-existing-query",
        ),
        pytest.param(
            "https://a.example/cb",
            {"code": "c", "state": None},
            "https://a.example/cb?code=c",
            id="drops-none",
        ),
        pytest.param(
            "https://a.example/cb",
            {"state": "a b&c=d"},
            "https://a.example/cb?state=a+b%26c%3Dd",
            id="encodes-values",
        ),
        pytest.param("https://a.example/cb", {}, "https://a.example/cb", id="no-params"),
    ],
)
def test_redirect_url(uri: str, params: dict[str, str | None], expected: str) -> None:
    assert redirect_url(uri, params) == expected
