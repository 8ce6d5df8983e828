"""Discovery documents: RFC 8414 (plus RFC 9207, RFC 9728 fields) and OpenID Discovery §3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from ostiary.core.config import ServerConfig
from ostiary.core.endpoints.metadata import (
    authorization_server_metadata,
    endpoint_url,
    openid_configuration,
)
from ostiary.core.models import GrantType
from ostiary.core.scopes import SUPPORTED_SCOPES

from ...support import ISSUER, OTHER_RESOURCE, RESOURCE

Builder = Callable[[ServerConfig, list[GrantType]], dict[str, Any]]
GRANTS = [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN]
BUILDERS = [
    pytest.param(authorization_server_metadata, id="oauth-authorization-server"),
    pytest.param(openid_configuration, id="openid-configuration"),
]


@pytest.mark.parametrize("build", BUILDERS)
def test_required_fields(config: ServerConfig, build: Builder) -> None:
    doc = build(config, GRANTS)
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == "https://as.example.com/authorize"
    assert doc["token_endpoint"] == "https://as.example.com/token"
    assert doc["jwks_uri"] == "https://as.example.com/jwks"
    assert doc["registration_endpoint"] == "https://as.example.com/register"
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["scopes_supported"] == [
        "tools:read",
        "tools:execute",
        "resources:read",
        "resources:write",
        "prompts:read",
    ]
    assert doc["scopes_supported"] == list(SUPPORTED_SCOPES)
    assert sorted(doc["token_endpoint_auth_methods_supported"]) == [
        "client_secret_basic",
        "client_secret_post",
        "none",
        "private_key_jwt",
    ]
    # RFC 8414 §2: asymmetric only, never "none" or HS*
    assert doc["token_endpoint_auth_signing_alg_values_supported"] == [
        "ES256",
        "RS256",
        "EdDSA",
        "Ed25519",
    ]
    assert doc["protected_resources"] == [RESOURCE, OTHER_RESOURCE]


def test_openid_configuration_adds_discovery_fields(config: ServerConfig) -> None:
    oauth = authorization_server_metadata(config, GRANTS)
    oidc = openid_configuration(config, GRANTS)
    assert oidc["subject_types_supported"] == ["public"]
    assert oidc["id_token_signing_alg_values_supported"] == ["ES256"]
    assert {k: v for k, v in oidc.items() if k in oauth} == oauth


@pytest.mark.parametrize("alg", ["RS256", "Ed25519"])
def test_openid_configuration_names_the_configured_signing_algorithm(
    config: ServerConfig, alg: str
) -> None:
    oidc = openid_configuration(replace(config, signing_alg=alg), GRANTS)
    assert oidc["id_token_signing_alg_values_supported"] == [alg]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(
    ("issuer", "token_endpoint"),
    [
        pytest.param("https://as.example.com", "https://as.example.com/token", id="bare-host"),
        pytest.param(
            "https://as.example.com/", "https://as.example.com/token", id="trailing-slash"
        ),
        pytest.param(
            "https://Example.COM:8443/tenant/a",
            "https://Example.COM:8443/tenant/a/token",
            id="path-port-and-case",
        ),
    ],
)
def test_issuer_is_byte_identical(build: Builder, issuer: str, token_endpoint: str) -> None:
    doc = build(ServerConfig(issuer=issuer, resources=(RESOURCE,)), GRANTS)
    assert doc["issuer"] == issuer
    assert doc["token_endpoint"] == token_endpoint


def test_grant_types_follow_what_is_enabled(config: ServerConfig) -> None:
    doc = authorization_server_metadata(config, [GrantType.AUTHORIZATION_CODE])
    assert doc["grant_types_supported"] == ["authorization_code"]


def test_endpoint_url() -> None:
    assert endpoint_url("https://h/", "/jwks") == "https://h/jwks"
    assert endpoint_url("https://h/p", "/jwks") == "https://h/p/jwks"
