"""Discovery of the revocation (RFC 7009) and introspection (RFC 7662) endpoints (RFC 8414 §2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ostiary.core.config import ServerConfig
from ostiary.core.endpoints.metadata import (
    SUPPORTED_AUTH_METHODS,
    authorization_server_metadata,
    openid_configuration,
)
from ostiary.core.models import AuthMethod, GrantType

GRANTS = [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN]
Builder = Callable[[ServerConfig, list[GrantType]], dict[str, Any]]


@pytest.mark.parametrize("build", [authorization_server_metadata, openid_configuration])
@pytest.mark.parametrize(
    ("issuer", "base"),
    [("https://as.example.com", "https://as.example.com"), ("https://h/t/", "https://h/t")],
)
def test_revocation_and_introspection_are_advertised(
    build: Builder, issuer: str, base: str
) -> None:
    doc = build(ServerConfig(issuer=issuer, resources=("https://h/mcp",)), GRANTS)

    assert doc["revocation_endpoint"] == f"{base}/revoke"
    assert doc["introspection_endpoint"] == f"{base}/introspect"
    # revocation authenticates like the token endpoint, public clients included
    assert (
        doc["revocation_endpoint_auth_methods_supported"]
        == (doc["token_endpoint_auth_methods_supported"])
    )
    assert "none" in doc["revocation_endpoint_auth_methods_supported"]
    # introspection: confidential clients only
    assert doc["introspection_endpoint_auth_methods_supported"] == [
        m.value for m in SUPPORTED_AUTH_METHODS if m is not AuthMethod.NONE
    ]
    assert "none" not in doc["introspection_endpoint_auth_methods_supported"]
    assert "client_secret_basic" in doc["introspection_endpoint_auth_methods_supported"]
