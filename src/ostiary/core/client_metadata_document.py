"""Validate a fetched Client ID Metadata Document into a ``Client`` (REQ-AS-23, REQ-AS-17).

The document is the JSON object the client publishes at its ``client_id`` URL. The rules
(CIMD draft §Client Identifier URL, §Client Information Discovery, §Credential Restrictions):

* the URL: https (http only in loopback test mode, which the fetcher decides), a host, a
  path, no fragment, no user information, no ``.``/``..`` segments (``InvalidRequest``);
* ``client_id`` in the document equals the URL, a plain string comparison (``InvalidClient``);
* no shared secret: ``client_secret`` / ``client_secret_expires_at`` refused, and
  ``token_endpoint_auth_method`` is ``none`` (the default) or ``private_key_jwt`` with
  ``jwks`` / ``jwks_uri`` (``InvalidClientMetadata``);
* ``client_name`` and ``redirect_uris`` are required; redirect URIs, ``application_type``,
  ``grant_types`` (``authorization_code``, optionally ``refresh_token``), keys and the
  informational links follow the dynamic-registration rules (``core.endpoints.register``);
* ``scope`` narrows the client to the scopes this server knows; others are ignored, since
  one document serves many authorization servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ostiary.core.endpoints.register import (
    MAX_NAME_LENGTH,
    MAX_SCOPE_LENGTH,
    MAX_URI_LENGTH,
    application_type,
    auth_method,
    check_response_types,
    client_keys,
    extra_metadata,
    grant_types,
    redirect_uris,
    text,
)
from ostiary.core.errors import InvalidClient, InvalidRequest, OAuthError
from ostiary.core.models import AuthMethod, Client, ClientId, GrantType
from ostiary.core.registration import InvalidClientMetadata
from ostiary.core.scopes import parse_scope

DOCUMENT_AUTH_METHODS = (AuthMethod.NONE, AuthMethod.PRIVATE_KEY_JWT)
SECRET_FIELDS = ("client_secret", "client_secret_expires_at")


def check_client_id_url(url: str) -> str:
    """The URL shape a metadata document's ``client_id`` must have (CIMD §Client Identifier URL)."""
    if len(url) > MAX_URI_LENGTH or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidRequest("client_id URL is too long or contains forbidden characters")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise InvalidRequest("client_id URL is malformed") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidRequest("client_id URL must be an https URL with a host")
    if "#" in url or parts.username is not None or parts.password is not None:
        raise InvalidRequest("client_id URL must not have a fragment or user information")
    segments = parts.path.split("/")
    if not parts.path.strip("/") or any(s in (".", "..") for s in segments):
        raise InvalidRequest("client_id URL needs a path without . or .. segments")
    return url


def client_from_document(
    url: str, document: object, scopes_supported: tuple[str, ...], *, now: int = 0
) -> Client:
    """The client the document at ``url`` describes, or the first refusal as an ``OAuthError``."""
    check_client_id_url(url)
    if not isinstance(document, Mapping):
        raise InvalidClientMetadata("the client metadata document must be a JSON object")
    if document.get("client_id") != url:
        raise InvalidClient("client_id in the metadata document does not match its URL")
    for secret_field in SECRET_FIELDS:
        if secret_field in document:
            raise InvalidClientMetadata(
                f"a client metadata document must not contain {secret_field}"
            )
    method = document_auth_method(document)
    grants = document_grant_types(document, method)
    check_response_types(document, grants)
    redirects = redirect_uris(document, grants)
    app_type = application_type(document, redirects)
    jwks, jwks_uri = client_keys(document, method)
    name = text(document, "client_name", MAX_NAME_LENGTH)
    if name is None:
        raise InvalidClientMetadata("client_name is required")
    return Client(
        client_id=ClientId(url),
        client_name=name,
        redirect_uris=redirects,
        token_endpoint_auth_method=method,
        grant_types=grants,
        scope=document_scope(document, scopes_supported),
        created_at=now,
        application_type=app_type,
        jwks=jwks,
        jwks_uri=jwks_uri,
        extra_metadata=extra_metadata(document),
    )


def document_auth_method(document: Mapping[str, object]) -> AuthMethod:
    """``none`` when omitted; a shared-secret method is refused (CIMD §Credential Restrictions)."""
    if document.get("token_endpoint_auth_method") is None:
        return AuthMethod.NONE
    method = auth_method(document)
    if method not in DOCUMENT_AUTH_METHODS:
        raise InvalidClientMetadata(
            "token_endpoint_auth_method must be none or private_key_jwt in a metadata document"
        )
    return method


def document_grant_types(
    document: Mapping[str, object], method: AuthMethod
) -> tuple[GrantType, ...]:
    grants = grant_types(document, method)
    if GrantType.AUTHORIZATION_CODE not in grants or GrantType.CLIENT_CREDENTIALS in grants:
        raise InvalidClientMetadata(
            "grant_types of a metadata document are authorization_code and refresh_token"
        )
    return grants


def document_scope(
    document: Mapping[str, object], scopes_supported: tuple[str, ...]
) -> frozenset[str] | None:
    value = text(document, "scope", MAX_SCOPE_LENGTH)
    if value is None:
        return None
    try:
        scopes = parse_scope(value) & frozenset(scopes_supported)
    except OAuthError:
        raise InvalidClientMetadata("scope must be space-separated scope names") from None
    if not scopes:
        raise InvalidClientMetadata("scope names no scope this server supports")
    return scopes
