"""Domain records."""

from __future__ import annotations

import pytest

from ostiary.core.models import AuthMethod, Client, ClientId, GrantType


@pytest.mark.parametrize(
    ("method", "public"),
    [
        pytest.param(AuthMethod.NONE, True, id="none"),
        pytest.param(AuthMethod.CLIENT_SECRET_BASIC, False, id="client_secret_basic"),
        pytest.param(AuthMethod.CLIENT_SECRET_POST, False, id="client_secret_post"),
    ],
)
def test_client_is_public_only_without_authentication(method: AuthMethod, public: bool) -> None:
    client = Client(
        ClientId("c"), "C", ("https://a.example/cb",), token_endpoint_auth_method=method
    )
    assert client.is_public is public


def test_client_defaults() -> None:
    client = Client(ClientId("c"), "C", ("https://a.example/cb",))
    assert client.token_endpoint_auth_method is AuthMethod.NONE
    assert client.grant_types == (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN)
    assert client.scope is None
    assert client.secret_hash is None
