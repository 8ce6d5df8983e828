"""Client metadata rules shared by every way a client can be registered."""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import SplitResult, urlsplit

from ostiary.core.errors import OAuthError, TemporarilyUnavailable
from ostiary.core.models import ApplicationType
from ostiary.core.redirect_uris import LOOPBACK_HOSTS, is_loopback


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2: a redirect URI is not acceptable."""

    error = "invalid_redirect_uri"
    status_code = 400


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2: some other client metadata is not acceptable."""

    error = "invalid_client_metadata"
    status_code = 400


class RegistrationRateLimited(TemporarilyUnavailable):
    """Too many registrations from one address: 429 with ``Retry-After`` (RFC 6585 §4)."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many client registrations from this address; try again later")
        self.retry_after = max(1, retry_after)


class RedirectKind(StrEnum):
    """What a redirect URI points at, which decides the application types it suits."""

    WEB = "web"  # https on a non-loopback host
    LOOPBACK = "loopback"  # http (or https) on 127.0.0.1, [::1] or localhost
    PRIVATE_USE = "private_use"  # a custom scheme such as com.example.app:/cb (RFC 8252 §7.1)


# Schemes that a browser or OS would run, read or hand elsewhere instead of an app callback.
DENIED_SCHEMES = frozenset(
    {"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source"}
    | {"ftp", "ws", "wss", "mailto", "tel", "sms", "urn", "http", "https"}
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


def _parse(uri: str) -> SplitResult:
    """Absolute-URI syntax with no fragment, wildcard, whitespace or control character."""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in uri) or "*" in uri:
        raise InvalidRedirectUri("redirect URI contains forbidden characters")
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        raise InvalidRedirectUri("redirect URI is malformed") from None
    if parts.fragment or "#" in uri:
        raise InvalidRedirectUri("redirect URI must not have a fragment")
    return parts


def check_redirect_uri(uri: str) -> str:
    """https, or http on a loopback host; absolute, no fragment, no wildcard, no controls.

    OAuth 2.1 §2.3.1 and MCP's communication-security rule (REQ-AS-6).
    """
    parts = _parse(uri)
    if parts.scheme == "https" and parts.hostname and "@" not in parts.netloc:
        return uri
    if is_loopback(uri):
        return uri
    raise InvalidRedirectUri("redirect URI must be https, or http on a loopback address")


def classify_redirect_uri(uri: str) -> RedirectKind:
    """The kind of a redirect URI a client registers dynamically, or ``InvalidRedirectUri``.

    https anywhere, http only on loopback (REQ-AS-6), or a private-use scheme (RFC 8252 §7.1)
    that is not one a browser would act on itself (``javascript:``, ``data:``, ``file:``...).
    """
    parts = _parse(uri)
    if "@" in parts.netloc:
        raise InvalidRedirectUri("redirect URI must not contain user information")
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        loopback = host in LOOPBACK_HOSTS or f"[{host}]" in LOOPBACK_HOSTS
        return RedirectKind.LOOPBACK if loopback else RedirectKind.WEB
    if is_loopback(uri):
        return RedirectKind.LOOPBACK
    if parts.scheme == "http":
        raise InvalidRedirectUri("an http redirect URI must use a loopback host")
    if parts.scheme in DENIED_SCHEMES or not _SCHEME.fullmatch(parts.scheme):
        raise InvalidRedirectUri("redirect URI scheme is not allowed")
    if not (parts.netloc or parts.path.strip("/")):
        raise InvalidRedirectUri("redirect URI is malformed")
    return RedirectKind.PRIVATE_USE


def application_type_for(
    declared: ApplicationType | None, kinds: set[RedirectKind]
) -> ApplicationType:
    """Check redirect kinds against the application type (OpenID Connect Registration §2).

    ``web`` clients use https on non-loopback hosts only; ``native`` clients use loopback or
    private-use schemes only. When the type is omitted and every redirect URI is a native
    kind, the client is native (what MCP desktop clients mean); otherwise it is ``web``, the
    OIDC default.
    """
    native_kinds = {RedirectKind.LOOPBACK, RedirectKind.PRIVATE_USE}
    if declared is None:
        declared = (
            ApplicationType.NATIVE if kinds and kinds <= native_kinds else ApplicationType.WEB
        )
    if declared is ApplicationType.WEB and RedirectKind.PRIVATE_USE in kinds:
        raise InvalidRedirectUri("custom URI schemes are only for native clients")
    if declared is ApplicationType.WEB and RedirectKind.LOOPBACK in kinds:
        raise InvalidRedirectUri(
            "a web client's redirect URIs must be https on a non-loopback host; "
            "register loopback redirect URIs as a separate native client"
        )
    if declared is ApplicationType.NATIVE and RedirectKind.WEB in kinds:
        raise InvalidRedirectUri(
            "a native client's redirect URIs must be loopback or use a private-use scheme"
        )
    return declared
