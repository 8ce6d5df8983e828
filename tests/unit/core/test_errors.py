"""OAuth error classes: codes, statuses, and safe descriptions (RFC 6749 §5.2)."""

from __future__ import annotations

import pytest

from ostiary.core.errors import (
    AccessDenied,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    RedirectError,
    ServerError,
    TemporarilyUnavailable,
    UnauthorizedClient,
    UnsafeRedirectError,
    UnsupportedGrantType,
    UnsupportedResponseType,
)


@pytest.mark.parametrize(
    ("cls", "error", "status"),
    [
        pytest.param(OAuthError, "server_error", 500, id="base"),
        pytest.param(InvalidRequest, "invalid_request", 400, id="invalid_request"),
        pytest.param(InvalidClient, "invalid_client", 401, id="invalid_client"),
        pytest.param(InvalidGrant, "invalid_grant", 400, id="invalid_grant"),
        pytest.param(UnauthorizedClient, "unauthorized_client", 400, id="unauthorized_client"),
        pytest.param(UnsupportedGrantType, "unsupported_grant_type", 400, id="unsupported_grant"),
        pytest.param(
            UnsupportedResponseType, "unsupported_response_type", 400, id="unsupported_response"
        ),
        pytest.param(InvalidScope, "invalid_scope", 400, id="invalid_scope"),
        pytest.param(InvalidTarget, "invalid_target", 400, id="invalid_target"),
        pytest.param(AccessDenied, "access_denied", 403, id="access_denied"),
        pytest.param(TemporarilyUnavailable, "temporarily_unavailable", 503, id="unavailable"),
        pytest.param(ServerError, "server_error", 500, id="server_error"),
    ],
)
def test_error_codes_and_statuses(cls: type[OAuthError], error: str, status: int) -> None:
    exc = cls("what happened")
    assert exc.error == error
    assert exc.status_code == status
    assert exc.description == "what happened"
    assert str(exc) == f"{error}: what happened"
    assert isinstance(exc, OAuthError)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("plain text", "plain text", id="plain"),
        pytest.param('say "hi"', "say ?hi?", id="double-quote"),
        pytest.param("back\\slash", "back?slash", id="backslash"),
        pytest.param("naïve ✓", "na?ve ?", id="non-ascii"),
        pytest.param("line\nbreak\r\ttab", "line break  tab", id="whitespace-controls"),
        pytest.param("bell\x07", "bell?", id="other-control"),
    ],
)
def test_description_is_limited_to_rfc6749_characters(
    description: str | None, expected: str | None
) -> None:
    assert InvalidRequest(description).description == expected


def test_error_without_description_has_bare_message() -> None:
    assert str(InvalidGrant()) == "invalid_grant: "


def test_unsafe_redirect_error_wraps_the_oauth_error() -> None:
    inner = InvalidRequest("unknown client_id")
    exc = UnsafeRedirectError(inner)
    assert exc.error is inner
    assert str(exc) == "invalid_request: unknown client_id"


def test_redirect_error_carries_uri_and_state() -> None:
    inner = InvalidScope("bad")
    exc = RedirectError(inner, "https://a.example/cb", "s")
    assert (exc.error, exc.redirect_uri, exc.state) == (inner, "https://a.example/cb", "s")
    assert str(exc) == "invalid_scope: bad"
