"""The one bearer token a request presents, from the ``Authorization`` header only.

RFC 6750 §2 and REQ-RS-8: ``bearer_methods_supported`` is ``["header"]``. A token in the query
string or in a form body is refused (never used), and so is a request presenting more than one
credential. An ``Authorization`` header with another scheme is no bearer credential at all.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from ostiary.resource.jsonrpc import MalformedRequest

FORM = "application/x-www-form-urlencoded"
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _form_token(body: bytes, content_type: str) -> bool:
    if content_type.split(";", maxsplit=1)[0].strip().lower() != FORM:
        return False
    return "access_token" in parse_qs(body.decode("latin-1"), keep_blank_values=True)


def bearer_token(
    authorization: list[str], query_string: str, body: bytes, content_type: str
) -> str | None:
    """The header's bearer token, ``None`` when there is none; ``MalformedRequest`` otherwise."""
    in_query = bool(query_string) and "access_token" in parse_qs(
        query_string, keep_blank_values=True
    )
    in_form = _form_token(body, content_type)
    if len(authorization) + in_query + in_form > 1:
        raise MalformedRequest("more than one credential in the request")
    if in_query or in_form:
        raise MalformedRequest("access tokens are accepted in the Authorization header only")
    if not authorization:
        return None
    scheme, _, token = authorization[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not _B64TOKEN.fullmatch(token):
        raise MalformedRequest("malformed Authorization header")
    return token
