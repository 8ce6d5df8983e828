"""The token endpoint: grant dispatch and client authentication (RFC 6749 §2.3, §5.2).

RFC 6749 §5.2 decides the error codes asserted here:

* ``invalid_client``: unknown client, no client authentication, wrong secret, or an
  authentication method other than the one the client registered (a public client sending a
  secret, a confidential client sending none, Basic for a ``client_secret_post`` client...).
* ``invalid_request``: a missing or repeated parameter, or more than one authentication
  mechanism in one request (Basic plus ``client_secret``), or a body ``client_id`` that
  contradicts the Basic credentials (the request is malformed).
* ``unsupported_grant_type`` is decided before the client is authenticated; a known grant the
  client is not registered for is ``unauthorized_client``.
"""

from __future__ import annotations

import pytest

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.endpoints.token import token_endpoint
from ostiary.core.errors import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ostiary.core.models import AuthMethod, Client, ClientId, GrantType
from ostiary.core.params import MAX_PARAM_LENGTH
from ostiary.core.responses import TokenResponse

from ...support import (
    CONFIDENTIAL_ID,
    CONFIDENTIAL_REDIRECT,
    CONFIDENTIAL_SECRET,
    PUBLIC_ID,
    Harness,
    code_params,
    decode_access_token,
    obtain_code,
    register_confidential_client,
    register_public_client,
)

POST_ID = "post-app"
POST_SECRET = "post-secret-abcdefghijklmnopqrstuvwxyz0123456789"
CODE_ONLY_ID = "code-only-app"
NO_HASH_ID = "no-hash-app"


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    await register_public_client(h.storage)
    await register_confidential_client(h.storage, h.hasher)
    await register_confidential_client(
        h.storage,
        h.hasher,
        POST_ID,
        POST_SECRET,
        method=AuthMethod.CLIENT_SECRET_POST,
        redirect_uris=(CONFIDENTIAL_REDIRECT,),
    )
    await register_public_client(
        h.storage, CODE_ONLY_ID, grant_types=(GrantType.AUTHORIZATION_CODE,)
    )
    await h.storage.save_client(
        Client(
            client_id=ClientId(NO_HASH_ID),
            client_name="misconfigured",
            redirect_uris=(CONFIDENTIAL_REDIRECT,),
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
            secret_hash=None,
        )
    )


def basic(client_id: str = CONFIDENTIAL_ID, secret: str = CONFIDENTIAL_SECRET) -> ClientCredentials:
    return ClientCredentials(basic=(client_id, secret))


REFRESH = {"grant_type": ["refresh_token"], "refresh_token": ["whatever"]}
CODE = {"grant_type": ["authorization_code"], "code": ["whatever"]}

ERROR_CASES = [
    # grant_type
    pytest.param({"code": ["c"]}, basic(), InvalidRequest, id="missing-grant_type"),
    pytest.param(
        {"grant_type": ["authorization_code", "authorization_code"]},
        basic(),
        InvalidRequest,
        id="repeated-grant_type",
    ),
    pytest.param({"grant_type": ["password"]}, basic(), UnsupportedGrantType, id="password"),
    pytest.param({"grant_type": ["implicit"]}, basic(), UnsupportedGrantType, id="implicit"),
    pytest.param(
        {"grant_type": ["client_credentials"]},
        basic(),
        UnauthorizedClient,
        id="client_credentials-not-registered-for-client",
    ),
    pytest.param(
        {"grant_type": ["AUTHORIZATION_CODE"]},
        basic(),
        UnsupportedGrantType,
        id="grant_type-is-case-sensitive",
    ),
    pytest.param(
        {"grant_type": ["password"]},
        ClientCredentials(client_id="nobody"),
        UnsupportedGrantType,
        id="unsupported-grant-before-client-authentication",
    ),
    pytest.param(
        REFRESH,
        ClientCredentials(client_id=CODE_ONLY_ID),
        UnauthorizedClient,
        id="client-not-registered-for-refresh_token",
    ),
    # client authentication
    pytest.param(CODE, ClientCredentials(), InvalidClient, id="no-client-authentication"),
    pytest.param(
        CODE, ClientCredentials(client_id="nobody"), InvalidClient, id="unknown-public-client"
    ),
    pytest.param(CODE, basic("nobody", "x"), InvalidClient, id="unknown-client-basic"),
    pytest.param(
        CODE,
        ClientCredentials(client_id="nobody", client_secret="x"),
        InvalidClient,
        id="unknown-client-post",
    ),
    pytest.param(CODE, basic(secret="wrong"), InvalidClient, id="wrong-secret-basic"),
    pytest.param(
        CODE, basic(secret=CONFIDENTIAL_SECRET + "x"), InvalidClient, id="secret-with-suffix"
    ),
    pytest.param(CODE, basic(secret=""), InvalidClient, id="empty-secret-basic"),
    pytest.param(
        CODE,
        ClientCredentials(client_id=POST_ID, client_secret="wrong"),
        InvalidClient,
        id="wrong-secret-post",
    ),
    pytest.param(
        CODE,
        ClientCredentials(client_id=PUBLIC_ID, client_secret="anything"),
        InvalidClient,
        id="public-client-sends-client_secret",
    ),
    pytest.param(CODE, basic(PUBLIC_ID, "anything"), InvalidClient, id="public-client-sends-basic"),
    pytest.param(
        CODE,
        ClientCredentials(client_id=CONFIDENTIAL_ID),
        InvalidClient,
        id="confidential-client-sends-no-secret",
    ),
    pytest.param(
        CODE,
        ClientCredentials(client_id=CONFIDENTIAL_ID, client_secret=CONFIDENTIAL_SECRET),
        InvalidClient,
        id="basic-client-uses-post-method",
    ),
    pytest.param(
        CODE, basic(POST_ID, POST_SECRET), InvalidClient, id="post-client-uses-basic-method"
    ),
    pytest.param(
        CODE, basic(NO_HASH_ID, "anything"), InvalidClient, id="client-without-secret-hash"
    ),
    pytest.param(
        CODE,
        ClientCredentials(
            basic=(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET), client_secret=CONFIDENTIAL_SECRET
        ),
        InvalidRequest,
        id="basic-and-client_secret_post-together",
    ),
    pytest.param(
        CODE,
        ClientCredentials(basic=(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET), client_id=POST_ID),
        InvalidRequest,
        id="basic-client_id-differs-from-body-client_id",
    ),
    # repeated parameters reach the grant
    pytest.param(
        {"grant_type": ["authorization_code"], "code": ["a", "b"]},
        basic(),
        InvalidRequest,
        id="repeated-code",
    ),
    pytest.param(
        {"grant_type": ["authorization_code"], "code": ["c" * (MAX_PARAM_LENGTH + 1)]},
        basic(),
        InvalidRequest,
        id="oversized-code",
    ),
    pytest.param(
        {"grant_type": ["refresh_token"], "refresh_token": ["a", "b"]},
        basic(),
        InvalidRequest,
        id="repeated-refresh_token",
    ),
    pytest.param(
        {"grant_type": ["refresh_token"]}, basic(), InvalidRequest, id="missing-refresh_token"
    ),
]


@pytest.mark.parametrize(("params", "credentials", "expected"), ERROR_CASES)
async def test_token_endpoint_errors(
    h: Harness,
    params: dict[str, list[str]],
    credentials: ClientCredentials,
    expected: type[OAuthError],
) -> None:
    with pytest.raises(OAuthError) as caught:
        await token_endpoint(params, credentials, h.deps)
    assert type(caught.value) is expected


async def token_for(h: Harness, client_id: str, credentials: ClientCredentials) -> TokenResponse:
    code = await obtain_code(h, client_id, CONFIDENTIAL_REDIRECT)
    return await token_endpoint(code_params(code, CONFIDENTIAL_REDIRECT), credentials, h.deps)


@pytest.mark.parametrize(
    ("client_id", "credentials"),
    [
        pytest.param(CONFIDENTIAL_ID, basic(), id="client_secret_basic"),
        pytest.param(
            CONFIDENTIAL_ID,
            ClientCredentials(
                basic=(CONFIDENTIAL_ID, CONFIDENTIAL_SECRET), client_id=CONFIDENTIAL_ID
            ),
            id="basic-with-matching-body-client_id",
        ),
        pytest.param(
            POST_ID,
            ClientCredentials(client_id=POST_ID, client_secret=POST_SECRET),
            id="client_secret_post",
        ),
    ],
)
async def test_confidential_client_authenticates(
    h: Harness, client_id: str, credentials: ClientCredentials
) -> None:
    response = await token_for(h, client_id, credentials)
    assert decode_access_token(h, response.access_token).claims["client_id"] == client_id
    assert response.refresh_token is not None


async def test_client_without_refresh_grant_gets_no_refresh_token(h: Harness) -> None:
    code = await obtain_code(h, CODE_ONLY_ID)
    response = await token_endpoint(
        code_params(code), ClientCredentials(client_id=CODE_ONLY_ID), h.deps
    )
    assert response.refresh_token is None
    assert "refresh_token" not in response.to_json()
    assert h.storage.refresh_tokens == {}


async def test_custom_grant_table_dispatches_by_grant_type(h: Harness) -> None:
    calls: list[tuple[str, ClientId]] = []

    async def handler(params: object, client: Client, deps: object) -> TokenResponse:
        calls.append(("called", client.client_id))
        return TokenResponse("at", 1, "")

    # A grant the server enables but the client is not registered for stays refused.
    with pytest.raises(UnauthorizedClient):
        await token_endpoint(
            {"grant_type": ["client_credentials"]},
            basic(),
            h.deps,
            grants={GrantType.CLIENT_CREDENTIALS: handler},
        )
    assert calls == []
    response = await token_endpoint(
        {"grant_type": ["authorization_code"]},
        basic(),
        h.deps,
        grants={GrantType.AUTHORIZATION_CODE: handler},
    )
    assert response.access_token == "at"
    assert calls == [("called", CONFIDENTIAL_ID)]
