"""Dynamic Client Registration (RFC 7591 §3): validate the metadata, store the client, echo it.

Rules beyond the RFC, each answered with ``invalid_client_metadata`` unless it concerns a
redirect URI (``invalid_redirect_uri``):

* ``token_endpoint_auth_method`` defaults to ``client_secret_basic`` (RFC 7591 §2); MCP public
  clients send ``none``. ``private_key_jwt`` needs exactly one of ``jwks`` / ``jwks_uri``.
* ``application_type`` (OpenID Connect Registration §2): see ``application_type_for``; when it
  is omitted and every redirect URI is loopback or a private-use scheme, the client is native.
* ``grant_types`` defaults to ``authorization_code`` (so no refresh tokens); ``refresh_token``
  only beside ``authorization_code``; ``client_credentials`` only for confidential clients.
  ``response_types`` is ``code`` exactly when ``authorization_code`` is a grant type.
* ``scope`` is checked against the supported scopes, but it bounds only ``client_credentials``
  tokens, which no person approves. A client that signs people in registers for every scope
  (RFC 7591 §3.2.1 lets the server substitute the value, and the answer says so): MCP clients
  register at their first 401 with the baseline scope the challenge named, and must still be
  able to step up on a later 403; the person's consent is what limits their grants.
* Lengths are bounded (the ``MAX_*`` constants); metadata this server does not know is ignored
  (RFC 7591 §2), and a ``null`` value counts as omitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ostiary.core.deps import Deps
from ostiary.core.errors import OAuthError
from ostiary.core.models import ApplicationType, AuthMethod, Client, ClientId, GrantType
from ostiary.core.registration import (
    InvalidClientMetadata,
    InvalidRedirectUri,
    application_type_for,
    classify_redirect_uri,
)
from ostiary.core.scopes import format_scope, parse_scope

MAX_NAME_LENGTH = 200
MAX_URI_LENGTH = 2000
MAX_REDIRECT_URIS = 10
MAX_CONTACTS = 5
MAX_CONTACT_LENGTH = 320
MAX_TEXT_LENGTH = 200  # software_id, software_version
MAX_SCOPE_LENGTH = 1000
MAX_JWKS_KEYS = 10
MAX_LIST_ITEMS = 10  # grant_types, response_types

LINK_FIELDS = ("client_uri", "tos_uri", "policy_uri")  # http(s), shown to people as links
TEXT_FIELDS = ("software_id", "software_version")
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
SECRET_METHODS = frozenset({AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST})

Metadata = Mapping[str, Any]
ErrorType = Callable[[str], OAuthError]


@dataclass(frozen=True, slots=True)
class RegistrationResponse:
    """RFC 7591 §3.2.1: the client information; ``client_secret`` exists only in this answer."""

    client: Client
    client_secret: str | None = None
    named: bool = True  # False when the client sent no client_name
    supported_scopes: tuple[str, ...] = ()  # the answer's ``scope`` when the client has no bound

    def to_json(self) -> dict[str, Any]:
        client = self.client
        body: dict[str, Any] = {
            "client_id": client.client_id,
            "client_id_issued_at": client.created_at,
            "redirect_uris": list(client.redirect_uris),
            "token_endpoint_auth_method": client.token_endpoint_auth_method.value,
            "grant_types": [g.value for g in client.grant_types],
            "response_types": response_types(client),
            "application_type": client.application_type.value,
        }
        if self.named:
            body["client_name"] = client.client_name
        if client.scope is not None:
            body["scope"] = format_scope(client.scope)
        elif self.supported_scopes:
            body["scope"] = format_scope(self.supported_scopes)
        if self.client_secret is not None:
            body["client_secret"] = self.client_secret
            body["client_secret_expires_at"] = client.client_secret_expires_at
        if client.jwks is not None:
            body["jwks"] = client.jwks
        if client.jwks_uri is not None:
            body["jwks_uri"] = client.jwks_uri
        return {**client.extra_metadata, **body}


def response_types(client: Client) -> list[str]:
    return ["code"] if GrantType.AUTHORIZATION_CODE in client.grant_types else []


async def register_client(metadata: object, deps: Deps) -> RegistrationResponse:
    """Register a client from its parsed JSON metadata; every refusal is an audit event."""
    try:
        response = await _register(metadata, deps)
    except OAuthError as exc:
        await deps.events.emit(
            "client_registered", "failure", detail=f"{exc.error}: {exc.description or ''}"
        )
        raise
    await deps.events.emit("client_registered", "success", client_id=response.client.client_id)
    return response


async def _register(metadata: object, deps: Deps) -> RegistrationResponse:
    if not isinstance(metadata, Mapping):
        raise InvalidClientMetadata("the request body must be a JSON object")
    method = auth_method(metadata)
    grants = grant_types(metadata, method)
    check_response_types(metadata, grants)
    redirects = redirect_uris(metadata, grants)
    app_type = application_type(metadata, redirects)
    jwks, jwks_uri = client_keys(metadata, method)
    name = text(metadata, "client_name", MAX_NAME_LENGTH)
    scope = client_scope(metadata, deps.config.scopes_supported)
    if GrantType.CLIENT_CREDENTIALS not in grants:
        scope = None  # see the module docstring: consent bounds what a person grants
    extra = extra_metadata(metadata)

    now = deps.clock.now()
    client_id = ClientId(deps.new_id())
    secret = deps.new_token() if method in SECRET_METHODS else None
    client = Client(
        client_id=client_id,
        client_name=name if name is not None else client_id,
        redirect_uris=redirects,
        token_endpoint_auth_method=method,
        grant_types=grants,
        scope=scope,
        secret_hash=deps.hasher.hash(secret) if secret is not None else None,
        created_at=now,
        application_type=app_type,
        jwks=jwks,
        jwks_uri=jwks_uri,
        client_secret_expires_at=0,
        dynamic=True,
        extra_metadata=extra,
    )
    await deps.storage.save_client(client)
    supported = deps.config.scopes_supported
    return RegistrationResponse(client, secret, name is not None, supported)


# -- field readers: each returns the checked value or raises -------------------------------


def has_controls(value: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value)


def text(
    metadata: Metadata, name: str, limit: int, error: ErrorType = InvalidClientMetadata
) -> str | None:
    """A non-empty string of at most ``limit`` characters, without control characters."""
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise error(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise error(f"{name} must be at most {limit} characters")
    if has_controls(value):
        raise error(f"{name} must not contain control characters")
    return value


def text_list(
    metadata: Metadata,
    name: str,
    max_items: int,
    max_length: int,
    error: ErrorType = InvalidClientMetadata,
) -> tuple[str, ...] | None:
    """An array of at most ``max_items`` such strings, duplicates dropped."""
    values = metadata.get(name)
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise error(f"{name} must be an array of strings")
    if len(values) > max_items:
        raise error(f"{name} may hold at most {max_items} values")
    for value in values:
        text({name: value}, name, max_length, error)
    return tuple(dict.fromkeys(values))


def auth_method(metadata: Metadata) -> AuthMethod:
    value = metadata.get("token_endpoint_auth_method")
    if value is None:
        return AuthMethod.CLIENT_SECRET_BASIC  # RFC 7591 §2
    known = [m.value for m in AuthMethod]
    if value not in known:
        raise InvalidClientMetadata(f"token_endpoint_auth_method must be one of {', '.join(known)}")
    return AuthMethod(value)


def grant_types(metadata: Metadata, method: AuthMethod) -> tuple[GrantType, ...]:
    values = text_list(metadata, "grant_types", MAX_LIST_ITEMS, 100)
    if values is None:
        return (GrantType.AUTHORIZATION_CODE,)  # RFC 7591 §2
    known = [g.value for g in GrantType]
    if not values or any(v not in known for v in values):
        raise InvalidClientMetadata(f"grant_types may hold only {', '.join(known)}")
    grants = tuple(GrantType(v) for v in values)
    if GrantType.REFRESH_TOKEN in grants and GrantType.AUTHORIZATION_CODE not in grants:
        raise InvalidClientMetadata("refresh_token is only offered with authorization_code")
    if GrantType.CLIENT_CREDENTIALS in grants and method is AuthMethod.NONE:
        raise InvalidClientMetadata("client_credentials needs a confidential client")
    return grants


def check_response_types(metadata: Metadata, grants: tuple[GrantType, ...]) -> None:
    """RFC 7591 §2.1: ``code`` goes with ``authorization_code``, and only that."""
    values = text_list(metadata, "response_types", MAX_LIST_ITEMS, 100)
    code_grant = GrantType.AUTHORIZATION_CODE in grants
    if values is None:
        return
    if any(v != "code" for v in values):
        raise InvalidClientMetadata("response_types may hold only code")
    if code_grant != bool(values):
        raise InvalidClientMetadata(
            "response_types code and grant_types authorization_code go together"
        )


def redirect_uris(metadata: Metadata, grants: tuple[GrantType, ...]) -> tuple[str, ...]:
    uris = text_list(
        metadata, "redirect_uris", MAX_REDIRECT_URIS, MAX_URI_LENGTH, InvalidRedirectUri
    )
    if GrantType.AUTHORIZATION_CODE in grants and not uris:
        raise InvalidRedirectUri("redirect_uris is required for the authorization_code grant")
    if GrantType.AUTHORIZATION_CODE not in grants and uris:
        raise InvalidRedirectUri("redirect_uris are only for the authorization_code grant")
    return uris or ()


def application_type(metadata: Metadata, uris: tuple[str, ...]) -> ApplicationType:
    value = metadata.get("application_type")
    if value is not None and value not in ("web", "native"):
        raise InvalidClientMetadata("application_type must be web or native")
    declared = ApplicationType(value) if value is not None else None
    return application_type_for(declared, {classify_redirect_uri(u) for u in uris})


def client_scope(metadata: Metadata, supported: tuple[str, ...]) -> frozenset[str] | None:
    value = text(metadata, "scope", MAX_SCOPE_LENGTH)
    if value is None:
        return None
    try:
        scopes = parse_scope(value)
    except OAuthError:
        raise InvalidClientMetadata("scope must be space-separated scope names") from None
    unknown = scopes - set(supported)
    if unknown:
        raise InvalidClientMetadata(f"unknown scope: {format_scope(unknown)}")
    return scopes


def client_keys(metadata: Metadata, method: AuthMethod) -> tuple[dict[str, Any] | None, str | None]:
    """``jwks`` or ``jwks_uri``, exactly one, and only for ``private_key_jwt`` (RFC 7591 §2)."""
    jwks, jwks_uri = metadata.get("jwks"), metadata.get("jwks_uri")
    if method is not AuthMethod.PRIVATE_KEY_JWT:
        if jwks is not None or jwks_uri is not None:
            raise InvalidClientMetadata("jwks and jwks_uri are accepted only with private_key_jwt")
        return None, None
    if (jwks is None) == (jwks_uri is None):
        raise InvalidClientMetadata("private_key_jwt needs exactly one of jwks or jwks_uri")
    if jwks_uri is not None:
        return None, link(metadata, "jwks_uri", https_only=True)
    return public_jwks(jwks), None


def public_jwks(value: object) -> dict[str, Any]:
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_JWKS_KEYS:
        raise InvalidClientMetadata(f"jwks must be a JWK Set of 1 to {MAX_JWKS_KEYS} keys")
    for key in keys:
        if not isinstance(key, dict) or not isinstance(key.get("kty"), str):
            raise InvalidClientMetadata("every key in jwks needs a kty")
        if key["kty"] == "oct" or PRIVATE_JWK_MEMBERS & key.keys():
            raise InvalidClientMetadata("jwks must hold public asymmetric keys only")
    return {"keys": keys}


def link(metadata: Metadata, name: str, *, https_only: bool) -> str | None:
    """An absolute https (or, unless ``https_only``, http) URL with a host and no fragment."""
    value = text(metadata, name, MAX_URI_LENGTH)
    if value is None:
        return None
    schemes = ("https",) if https_only else ("https", "http")
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in schemes
        or not parts.hostname
        or "@" in parts.netloc
        or "#" in value
        or " " in value
    ):
        kind = "https" if https_only else "http(s)"
        raise InvalidClientMetadata(f"{name} must be an absolute {kind} URL without a fragment")
    return value


def extra_metadata(metadata: Metadata) -> dict[str, Any]:
    """The informational RFC 7591 §2 fields, kept only to be echoed and shown."""
    extra: dict[str, Any] = {}
    for name in LINK_FIELDS:
        extra[name] = link(metadata, name, https_only=False)
    extra["logo_uri"] = link(metadata, "logo_uri", https_only=True)
    for name in TEXT_FIELDS:
        extra[name] = text(metadata, name, MAX_TEXT_LENGTH)
    contacts = text_list(metadata, "contacts", MAX_CONTACTS, MAX_CONTACT_LENGTH)
    extra["contacts"] = list(contacts) if contacts is not None else None
    return {k: v for k, v in extra.items() if v is not None}
