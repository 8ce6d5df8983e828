"""Discovery documents: RFC 8414 and OpenID Connect Discovery 1.0 §3."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ostiary.core.client_assertion import ASSERTION_ALGORITHMS
from ostiary.core.config import ServerConfig
from ostiary.core.models import AuthMethod, GrantType

SUPPORTED_AUTH_METHODS = (
    AuthMethod.NONE,
    AuthMethod.CLIENT_SECRET_BASIC,
    AuthMethod.CLIENT_SECRET_POST,
    AuthMethod.PRIVATE_KEY_JWT,
)


def endpoint_url(issuer: str, path: str) -> str:
    return issuer.rstrip("/") + path


def authorization_server_metadata(
    config: ServerConfig, grant_types: Iterable[GrantType]
) -> dict[str, Any]:
    """RFC 8414 §2 metadata; ``issuer`` is byte-identical to the configured issuer."""
    issuer = config.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": endpoint_url(issuer, "/authorize"),
        "token_endpoint": endpoint_url(issuer, "/token"),
        "jwks_uri": endpoint_url(issuer, "/jwks"),
        "registration_endpoint": endpoint_url(issuer, "/register"),  # RFC 7591
        "scopes_supported": list(config.scopes_supported),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [g.value for g in grant_types],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [m.value for m in SUPPORTED_AUTH_METHODS],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        # Revocation authenticates exactly like the token endpoint; introspection needs a
        # confidential client, so every method but "none".
        "revocation_endpoint": endpoint_url(issuer, "/revoke"),
        "revocation_endpoint_auth_methods_supported": [m.value for m in SUPPORTED_AUTH_METHODS],
        "introspection_endpoint": endpoint_url(issuer, "/introspect"),
        "introspection_endpoint_auth_methods_supported": [
            m.value for m in SUPPORTED_AUTH_METHODS if m is not AuthMethod.NONE
        ],
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,  # https client ids (REQ-AS-23)
        "protected_resources": list(config.resources),
    }


def openid_configuration(config: ServerConfig, grant_types: Iterable[GrantType]) -> dict[str, Any]:
    """The same document with the fields OpenID Discovery §3 requires."""
    return {
        **authorization_server_metadata(config, grant_types),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [config.signing_alg],
    }
