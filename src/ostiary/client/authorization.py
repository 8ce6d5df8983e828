"""The authorization request and the checks on its answer; pure, no I/O.

* ``new_authorization`` builds the request: PKCE S256 (REQ-CL-12), a random ``state``
  (REQ-CL-14), ``resource`` (REQ-CL-13), and records the validated issuer before the browser
  leaves (REQ-CL-16).
* ``check_callback`` decides whether an answer may be redeemed: ``state`` first, then ``iss``
  (RFC 9207 §2.4), then ``error``, then ``code``.
* ``parse_redirect`` / ``parse_query`` read the answer's query, one value per name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ostiary.client.errors import AuthorizationError
from ostiary.client.models import ServerMetadata
from ostiary.core.redirect_uris import is_loopback_host

TokenBytes = Callable[[int], bytes]

# What the person is told for the codes RFC 6749 §4.1.2.1 defines; others are shown as they are.
_ERROR_MEANINGS = {
    "access_denied": "the authorization was declined",
    "invalid_scope": "the server refused the requested scope",
    "invalid_request": "the server rejected the authorization request",
    "unauthorized_client": "this client may not use the authorization code flow there",
    "unsupported_response_type": "the server does not support response_type=code",
    "server_error": "the authorization server failed",
    "temporarily_unavailable": "the authorization server is temporarily unavailable",
}


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """One authorization request in flight: what the answer must match, and where it went.

    ``issuer`` is the validated metadata issuer recorded before redirecting (REQ-CL-16);
    ``iss_required`` is the server's ``authorization_response_iss_parameter_supported``.
    """

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    issuer: str
    iss_required: bool
    resource: str
    scope: str | None
    url: str = field(repr=False)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def code_challenge(verifier: str) -> str:
    """BASE64URL-NOPAD(SHA256(ASCII(code_verifier))), RFC 7636 §4.2."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def check_redirect_uri(redirect_uri: str) -> None:
    """REQ-CL-15: ``https``, or ``http`` on a loopback host; never a fragment."""
    parts = urlsplit(redirect_uri)
    secure = parts.scheme == "https" and bool(parts.hostname)
    loopback = parts.scheme == "http" and is_loopback_host(parts.hostname)
    if not (secure or loopback) or "#" in redirect_uri:
        raise AuthorizationError(
            f"redirect URI {redirect_uri!r} must be https or http://127.0.0.1:<port>/..."
        )


def _equal(a: str, b: str) -> bool:
    """Constant-time equality of two strings, byte-exact on their UTF-8 form."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    """``endpoint`` with ``params`` appended to any query it already has; its fragment dropped."""
    parts = urlsplit(endpoint)
    query = urlencode(params, quote_via=quote, safe="")
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def new_authorization(
    server: ServerMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    resource: str,
    scope: str | None,
    token_bytes: TokenBytes = secrets.token_bytes,
) -> PendingAuthorization:
    """A fresh authorization request (OAuth 2.1 §4.1.1): new verifier and state every time."""
    check_redirect_uri(redirect_uri)
    verifier = _b64url(token_bytes(32))
    state = _b64url(token_bytes(32))
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
        "state": state,
        "resource": resource,
    }
    if scope:
        params["scope"] = scope
    return PendingAuthorization(
        state=state,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        issuer=server.issuer,
        iss_required=server.authorization_response_iss_parameter_supported,
        resource=resource,
        scope=scope or None,
        url=authorization_url(server.authorization_endpoint, params),
    )


def check_state(params: Mapping[str, str], expected: str) -> None:
    """REQ-CL-14: discard an answer whose ``state`` is missing or not ours."""
    state = params.get("state")
    if state is None or not _equal(state, expected):
        raise AuthorizationError(
            "the answer's state does not match this sign-in; it was discarded (possible CSRF)"
        )


def check_iss(params: Mapping[str, str], issuer: str, *, required: bool) -> None:
    """REQ-CL-16 / RFC 9207 §2.4: byte-exact ``iss``; required when the server advertises it.

    The message never repeats the answer's ``error``/``error_description``: after a mismatch
    they may come from an attacker.
    """
    iss = params.get("iss")
    if iss is None:
        if required:
            raise AuthorizationError(
                f"the answer has no iss, but {issuer} promises one (possible mix-up attack); "
                "the code was not redeemed"
            )
        return
    if not _equal(iss, issuer):
        raise AuthorizationError(
            f"the answer's iss is not {issuer} (possible mix-up attack); the code was not redeemed"
        )


def describe_error(params: Mapping[str, str]) -> str:
    """A sentence for an error answer (RFC 6749 §4.1.2.1), naming the code and description."""
    error = params.get("error", "")
    meaning = _ERROR_MEANINGS.get(error, "the authorization server refused")
    description = params.get("error_description")
    detail = f"{error}: {description}" if description else error
    return f"{meaning} ({detail})"


def check_callback(params: Mapping[str, str], pending: PendingAuthorization) -> str:
    """The authorization code, once ``state``, ``iss`` and ``error`` allow redeeming it."""
    check_state(params, pending.state)
    check_iss(params, pending.issuer, required=pending.iss_required)
    if "error" in params:
        raise AuthorizationError(describe_error(params))
    code = params.get("code")
    if not code:
        raise AuthorizationError("the answer has neither a code nor an error")
    return code


def parse_query(query: str) -> dict[str, str]:
    """Form-decoded query parameters, one value each; a repeated name is refused."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in params:
            raise AuthorizationError(f"the answer repeats the parameter {name!r}")
        params[name] = value
    return params


def parse_redirect(url: str) -> dict[str, str]:
    """The query parameters of a redirect URL (for example pasted from the address bar)."""
    query = urlsplit(url.strip()).query
    if not query:
        raise AuthorizationError("that address carries no answer (it has no query string)")
    return parse_query(query)
