"""The HTTP boundary: requests in, core results and ``OAuthError``s out.

This is the one place where OAuth errors become HTTP responses (RFC 6749 §5.2, OAuth 2.1
§3.2.4): a JSON body, ``Cache-Control: no-store``, and for ``invalid_client`` a 401 with
a ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.requests import Request
from starlette.responses import Response

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.errors import InvalidClient, InvalidRequest, OAuthError, ServerError
from ostiary.core.params import optional
from ostiary.core.registration import InvalidClientMetadata, RegistrationRateLimited

log = logging.getLogger("ostiary.server")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_JSON_BYTES = 16 * 1024  # client registration metadata (RFC 7591 §3.1)
JSON_TYPE = "application/json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def oauth_error_response(exc: OAuthError) -> Response:
    """RFC 6749 §5.2 error body; only expose the description of client (4xx) errors."""
    if exc.status_code >= 500:
        exc = ServerError()
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient):
        # OAuth 2.1 §3.2.4: MUST when the Authorization header was used; RFC 9110 §15.5.2
        # makes a challenge part of every 401, so it is always sent.
        headers["WWW-Authenticate"] = 'Basic realm="ostiary"'
    if isinstance(exc, RegistrationRateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return json_response(body, exc.status_code, headers)


def unexpected_error_response(exc: Exception) -> Response:
    log.error("unexpected error at the token endpoint", exc_info=exc)
    return oauth_error_response(ServerError())


def media_type(request: Request) -> str:
    """The Content-Type without parameters, lowercased."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def read_form(request: Request) -> dict[str, list[str]]:
    """Parse an ``application/x-www-form-urlencoded`` body of bounded size."""
    if media_type(request) != FORM_TYPE:
        raise InvalidRequest(f"the request body must be {FORM_TYPE}")
    body = await bounded_body(request, MAX_FORM_BYTES)
    if body is None:
        raise InvalidRequest("the request body is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not UTF-8") from None
    return parse_qs(text, keep_blank_values=True)


async def read_json(request: Request) -> object:
    """A JSON body of at most ``MAX_JSON_BYTES``; every failure is ``invalid_client_metadata``.

    RFC 7591 §3.2.2 answers every unusable registration request with 400 and one of its error
    codes, so an oversized body gets that too rather than a bare 413.
    """
    if media_type(request) != JSON_TYPE:
        raise InvalidClientMetadata(f"the request body must be {JSON_TYPE}")
    body = await bounded_body(request, MAX_JSON_BYTES)
    if body is None:
        raise InvalidClientMetadata(f"the request body exceeds {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidClientMetadata("the request body is not valid JSON") from None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """HTTP Basic client credentials, form-urlencoded inside (RFC 6749 §2.3.1)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("unsupported client authentication scheme")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise InvalidClient("malformed Basic credentials")
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def client_credentials(request: Request, params: dict[str, list[str]]) -> ClientCredentials:
    return ClientCredentials(
        basic=basic_credentials(request),
        client_id=optional(params, "client_id"),
        client_secret=optional(params, "client_secret"),
        client_assertion_type=optional(params, "client_assertion_type"),
        client_assertion=optional(params, "client_assertion"),
    )
