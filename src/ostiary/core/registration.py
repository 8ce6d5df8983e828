"""Client metadata rules shared by every way a client can be registered."""

from __future__ import annotations

from urllib.parse import urlsplit

from ostiary.core.errors import OAuthError
from ostiary.core.redirect_uris import is_loopback


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2: a redirect URI is not acceptable."""

    error = "invalid_redirect_uri"
    status_code = 400


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2: some other client metadata is not acceptable."""

    error = "invalid_client_metadata"
    status_code = 400


def check_redirect_uri(uri: str) -> str:
    """https, or http on a loopback host; absolute, no fragment, no wildcard, no controls.

    OAuth 2.1 §2.3.1 and MCP's communication-security rule (REQ-AS-6).
    """
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in uri) or "*" in uri:
        raise InvalidRedirectUri("redirect URI contains forbidden characters")
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        raise InvalidRedirectUri("redirect URI is malformed") from None
    if parts.fragment or "#" in uri:
        raise InvalidRedirectUri("redirect URI must not have a fragment")
    if parts.scheme == "https" and parts.hostname and "@" not in parts.netloc:
        return uri
    if is_loopback(uri):
        return uri
    raise InvalidRedirectUri("redirect URI must be https, or http on a loopback address")
