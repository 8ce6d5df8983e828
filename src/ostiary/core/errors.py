"""OAuth errors: one class per registered error code.

Core code raises these; ``ostiary.server.adapters`` is the only place they become HTTP.
The ``description`` travels to the client, so it never holds a secret.

    OAuthError (server_error, 500)
    ├── InvalidRequest (400)          RFC 6749 §4.1.2.1, §5.2
    ├── InvalidClient (401)           RFC 6749 §5.2
    ├── InvalidGrant (400)            RFC 6749 §5.2
    ├── UnauthorizedClient (400)      RFC 6749 §4.1.2.1, §5.2
    ├── UnsupportedGrantType (400)    RFC 6749 §5.2
    ├── UnsupportedResponseType (400) RFC 6749 §4.1.2.1
    ├── InvalidScope (400)            RFC 6749 §4.1.2.1, §5.2
    ├── InvalidTarget (400)           RFC 8707 §2
    ├── UnsupportedTokenType (400)    RFC 7009 §2.2.1
    ├── AccessDenied (403)            RFC 6749 §4.1.2.1
    ├── TemporarilyUnavailable (503)  RFC 6749 §4.1.2.1
    └── ServerError (500)             RFC 6749 §4.1.2.1
"""

from __future__ import annotations

from typing import ClassVar

_ALLOWED = {0x09, 0x0A, 0x0D} | set(range(0x20, 0x7F))


def _check_ascii(text: str) -> str:
    """RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E."""
    cleaned = "".join(ch if ord(ch) in _ALLOWED and ch not in '"\\' else "?" for ch in text)
    return cleaned.replace("\n", " ").replace("\r", " ").replace("\t", " ")


class OAuthError(Exception):
    """Base of every OAuth protocol error; unexpected failures map to ``server_error``."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500

    def __init__(self, description: str | None = None) -> None:
        self.description = _check_ascii(description) if description else None
        super().__init__(f"{self.error}: {self.description or ''}")


class InvalidRequest(OAuthError):
    """A parameter is missing, repeated, malformed or unsupported."""

    error = "invalid_request"
    status_code = 400


class InvalidClient(OAuthError):
    """Client authentication failed (unknown client, no or wrong credentials, wrong method)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    """The code or refresh token is invalid, expired, revoked, used, or issued to another client."""

    error = "invalid_grant"
    status_code = 400


class UnauthorizedClient(OAuthError):
    """The client may not use this grant or response type."""

    error = "unauthorized_client"
    status_code = 400


class UnsupportedGrantType(OAuthError):
    """The grant type is unknown to this server."""

    error = "unsupported_grant_type"
    status_code = 400


class UnsupportedResponseType(OAuthError):
    """Only ``response_type=code`` is supported (OAuth 2.1)."""

    error = "unsupported_response_type"
    status_code = 400


class InvalidScope(OAuthError):
    """The scope is unknown, malformed, or exceeds what was granted."""

    error = "invalid_scope"
    status_code = 400


class InvalidTarget(OAuthError):
    """The ``resource`` is unknown, malformed, or not allowed (RFC 8707 §2)."""

    error = "invalid_target"
    status_code = 400


class UnsupportedTokenType(OAuthError):
    """The ``token_type_hint`` names a token type this server does not know (RFC 7009 §2.2.1)."""

    error = "unsupported_token_type"
    status_code = 400


class AccessDenied(OAuthError):
    """The resource owner refused the request."""

    error = "access_denied"
    status_code = 403


class TemporarilyUnavailable(OAuthError):
    """The server cannot handle the request now."""

    error = "temporarily_unavailable"
    status_code = 503


class ServerError(OAuthError):
    """An unexpected condition; details go to the log, never to the client."""

    error = "server_error"
    status_code = 500


class UnsafeRedirectError(Exception):
    """The client or redirect URI could not be verified, so the error must not be redirected.

    RFC 6749 §4.1.2.1: the server informs the resource owner and MUST NOT redirect.
    """

    def __init__(self, error: OAuthError) -> None:
        self.error = error
        super().__init__(str(error))


class RedirectError(Exception):
    """An authorization error to send back to a verified redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state
        super().__init__(str(error))
