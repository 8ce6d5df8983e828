"""Discovery: RFC 8414 metadata and OpenID Connect Discovery, at the root and under a path."""

from __future__ import annotations

import pytest

from ..helpers import ALL_SCOPES, ISSUER, RESOURCE, TENANT_ISSUER, TENANT_RESOURCE, Server

AS_PATH = "/.well-known/oauth-authorization-server"
OIDC_PATH = "/.well-known/openid-configuration"
SIGNING_ALGS = ["ES256", "RS256", "EdDSA", "Ed25519"]  # private_key_jwt assertions


def expected_metadata(issuer: str, resource: str) -> dict[str, object]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "registration_endpoint": f"{issuer}/register",
        "scopes_supported": ALL_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint": f"{issuer}/revoke",
        "revocation_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "introspection_endpoint": f"{issuer}/introspect",
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,
        "protected_resources": [resource],
    }


async def test_authorization_server_metadata(server: Server) -> None:
    response = await server.browser.get(AS_PATH)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.json() == expected_metadata(ISSUER, RESOURCE)
    # Byte-identical issuer (RFC 8414 §3.3): not re-serialised, no slash added or removed.
    assert b'"issuer":"http://127.0.0.1:8000"' in response.content


async def test_openid_configuration_adds_the_oidc_fields(server: Server) -> None:
    response = await server.browser.get(OIDC_PATH)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        **expected_metadata(ISSUER, RESOURCE),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }


@pytest.mark.parametrize(
    "path",
    [
        f"{AS_PATH}/tenant1",  # RFC 8414 §3.1: well-known string inserted before the path
        f"{OIDC_PATH}/tenant1",
        f"/tenant1{OIDC_PATH}",  # OpenID Discovery §4: appended to the issuer
        f"/tenant1{AS_PATH}",
    ],
)
async def test_metadata_for_an_issuer_with_a_path(tenant: Server, path: str) -> None:
    response = await tenant.browser.get(path)

    assert response.status_code == 200, path
    body = response.json()
    assert body["issuer"] == TENANT_ISSUER
    assert b'"issuer":"https://as.example.com/tenant1"' in response.content
    for name, value in expected_metadata(TENANT_ISSUER, TENANT_RESOURCE).items():
        assert body[name] == value, name
    assert body["authorization_endpoint"] == "https://as.example.com/tenant1/authorize"
    assert body["token_endpoint"] == "https://as.example.com/tenant1/token"
    assert body["jwks_uri"] == "https://as.example.com/tenant1/jwks"


@pytest.mark.parametrize("path", [AS_PATH, OIDC_PATH, "/jwks", "/authorize", "/login"])
async def test_a_path_issuer_serves_nothing_at_the_root(tenant: Server, path: str) -> None:
    response = await tenant.browser.get(path)

    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/tenant1/jwks", "/tenant1/login", "/tenant1/static/ostiary.css"])
async def test_a_path_issuer_serves_its_endpoints_under_the_path(tenant: Server, path: str) -> None:
    response = await tenant.browser.get(path)

    assert response.status_code == 200


@pytest.mark.parametrize("path", [AS_PATH, OIDC_PATH, "/jwks"])
async def test_machine_documents_set_no_cookies(server: Server, path: str) -> None:
    response = await server.browser.get(path)

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
