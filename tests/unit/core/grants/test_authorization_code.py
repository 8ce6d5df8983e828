"""The authorization code grant (OAuth 2.1 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import pytest

from ostiary.core.endpoints.token import token_endpoint
from ostiary.core.errors import InvalidGrant, InvalidRequest, InvalidTarget, OAuthError
from ostiary.core.models import GrantId

from ...support import (
    ALL_SCOPES,
    OTHER_RESOURCE,
    PUBLIC_ID,
    PUBLIC_REDIRECT,
    RESOURCE,
    USER_ID,
    USERNAME,
    VERIFIER,
    Harness,
    add_user,
    code_params,
    decode_access_token,
    exchange_code,
    obtain_code,
    public_credentials,
    refresh,
    register_public_client,
    storage_dump,
    with_changes,
)

OTHER_ID = "other-app"
LOOPBACK_ID = "loopback-app"
LOOPBACK = "http://127.0.0.1:1234/cb"
MULTI_ID = "multi-app"
MULTI = ("https://multi.example.com/a", "https://multi.example.com/b")

Setup = Callable[[Harness], Awaitable[None]]


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    await register_public_client(h.storage)
    await register_public_client(h.storage, OTHER_ID)
    await register_public_client(h.storage, LOOPBACK_ID, (LOOPBACK,))
    await register_public_client(h.storage, MULTI_ID, MULTI)
    await add_user(h.storage)


async def expire_code(h: Harness) -> None:
    h.clock.advance(h.deps.config.code_ttl)


async def delete_user(h: Harness) -> None:
    assert await h.storage.delete_user(USERNAME, h.clock.now())


async def revoke_every_grant(h: Harness) -> None:
    for grant_id in list(h.storage.grants):
        assert await h.storage.revoke_grant(GrantId(grant_id), h.clock.now())


async def nothing(h: Harness) -> None:
    return None


# (authorize redirect_uri, token-request changes, client, setup, expected error)
ERROR_CASES = [
    pytest.param(
        PUBLIC_REDIRECT, {"code": None}, PUBLIC_ID, nothing, InvalidRequest, id="missing-code"
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"code": ["unknown-" + "x" * 40]},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="unknown-code",
    ),
    pytest.param(PUBLIC_REDIRECT, {}, OTHER_ID, nothing, InvalidGrant, id="code-of-another-client"),
    pytest.param(PUBLIC_REDIRECT, {}, PUBLIC_ID, expire_code, InvalidGrant, id="expired-code"),
    pytest.param(
        PUBLIC_REDIRECT, {}, PUBLIC_ID, delete_user, InvalidGrant, id="user-deleted-meanwhile"
    ),
    pytest.param(
        PUBLIC_REDIRECT, {}, PUBLIC_ID, revoke_every_grant, InvalidGrant, id="grant-revoked"
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"redirect_uri": ["https://evil.example.com/callback"]},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="redirect_uri-mismatch",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"redirect_uri": [PUBLIC_REDIRECT + "/"]},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="redirect_uri-trailing-slash",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"redirect_uri": None},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="redirect_uri-missing-but-sent-in-authorization-request",
    ),
    pytest.param(
        None,
        {"redirect_uri": ["https://evil.example.com/callback"]},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="unregistered-redirect_uri-after-omitted-one",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"redirect_uri": [PUBLIC_REDIRECT, PUBLIC_REDIRECT]},
        PUBLIC_ID,
        nothing,
        InvalidRequest,
        id="repeated-redirect_uri",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"code_verifier": None},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="missing-verifier",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"code_verifier": ["a" * 43]},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="wrong-verifier",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"code_verifier": [VERIFIER[:42]]},
        PUBLIC_ID,
        nothing,
        InvalidGrant,
        id="short-verifier",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"code_verifier": [VERIFIER, VERIFIER]},
        PUBLIC_ID,
        nothing,
        InvalidRequest,
        id="repeated-verifier",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"resource": [OTHER_RESOURCE]},
        PUBLIC_ID,
        nothing,
        InvalidTarget,
        id="resource-mismatch",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"resource": [RESOURCE, OTHER_RESOURCE]},
        PUBLIC_ID,
        nothing,
        InvalidTarget,
        id="resource-mismatch-among-several",
    ),
    pytest.param(
        PUBLIC_REDIRECT,
        {"resource": ["/mcp"]},
        PUBLIC_ID,
        nothing,
        InvalidTarget,
        id="relative-resource",
    ),
]


@pytest.mark.parametrize(
    ("authorize_redirect", "changes", "client_id", "setup", "expected"), ERROR_CASES
)
async def test_authorization_code_errors(
    h: Harness,
    *,
    authorize_redirect: str | None,
    changes: Mapping[str, list[str] | None],
    client_id: str,
    setup: Setup,
    expected: type[OAuthError],
) -> None:
    code = await obtain_code(h, PUBLIC_ID, authorize_redirect)
    await setup(h)
    params = with_changes(code_params(code), changes)
    with pytest.raises(OAuthError) as caught:
        await token_endpoint(params, public_credentials(client_id), h.deps)
    assert type(caught.value) is expected
    assert h.storage.refresh_tokens == {}


@pytest.mark.parametrize(
    ("client_id", "authorize_redirect", "token_changes"),
    [
        pytest.param(PUBLIC_ID, PUBLIC_REDIRECT, {}, id="same-redirect_uri"),
        pytest.param(PUBLIC_ID, None, {"redirect_uri": None}, id="omitted-in-both"),
        pytest.param(
            PUBLIC_ID, None, {"redirect_uri": [PUBLIC_REDIRECT]}, id="registered-after-omitted"
        ),
        pytest.param(
            LOOPBACK_ID,
            "http://127.0.0.1:5555/cb",
            {"redirect_uri": ["http://127.0.0.1:5555/cb"]},
            id="loopback-same-port",
        ),
        pytest.param(PUBLIC_ID, PUBLIC_REDIRECT, {"resource": [RESOURCE]}, id="same-resource"),
        pytest.param(
            PUBLIC_ID,
            PUBLIC_REDIRECT,
            {"resource": ["HTTPS://AS.EXAMPLE.COM/mcp/"]},
            id="same-resource-other-spelling",
        ),
    ],
)
async def test_authorization_code_accepted(
    h: Harness,
    client_id: str,
    authorize_redirect: str | None,
    token_changes: Mapping[str, list[str] | None],
) -> None:
    code = await obtain_code(h, client_id, authorize_redirect)
    params = with_changes(code_params(code, authorize_redirect or PUBLIC_REDIRECT), token_changes)
    response = await token_endpoint(params, public_credentials(client_id), h.deps)
    assert response.token_type == "Bearer"
    assert response.refresh_token is not None


async def test_loopback_port_must_match_the_authorization_request(h: Harness) -> None:
    code = await obtain_code(h, LOOPBACK_ID, "http://127.0.0.1:5555/cb")
    params = code_params(code, "http://127.0.0.1:6666/cb")
    with pytest.raises(InvalidGrant):
        await token_endpoint(params, public_credentials(LOOPBACK_ID), h.deps)


async def test_code_expires_exactly_at_code_ttl(h: Harness) -> None:
    code = await obtain_code(h)
    h.clock.advance(h.deps.config.code_ttl - 1)
    assert (await exchange_code(h, code)).access_token
    late = await obtain_code(h)
    h.clock.advance(h.deps.config.code_ttl)
    with pytest.raises(InvalidGrant) as caught:
        await exchange_code(h, late)
    assert caught.value.description == "authorization code has expired"


async def test_reused_code_fails_and_revokes_the_grant(h: Harness) -> None:
    code = await obtain_code(h)
    first = await exchange_code(h, code)
    assert first.refresh_token is not None
    (grant_id,) = h.storage.grants

    with pytest.raises(InvalidGrant) as caught:
        await exchange_code(h, code)
    assert caught.value.description == "authorization code was already used or revoked"
    assert h.storage.grants[grant_id].revoked_at == h.clock.now()

    with pytest.raises(InvalidGrant):
        await refresh(h, first.refresh_token)
    with pytest.raises(InvalidGrant):  # and a third try stays refused
        await exchange_code(h, code)


async def test_code_replayed_by_another_client_still_revokes(h: Harness) -> None:
    code = await obtain_code(h)
    first = await exchange_code(h, code)
    assert first.refresh_token is not None
    with pytest.raises(InvalidGrant):
        await exchange_code(h, code, public_credentials(OTHER_ID))
    with pytest.raises(InvalidGrant):
        await refresh(h, first.refresh_token)


async def test_failed_exchange_still_consumes_the_code(h: Harness) -> None:
    code = await obtain_code(h)
    with pytest.raises(InvalidGrant):
        await exchange_code(h, code, code_verifier=["a" * 43])
    with pytest.raises(InvalidGrant) as caught:
        await exchange_code(h, code)
    assert caught.value.description == "authorization code was already used or revoked"


async def test_successful_exchange(h: Harness) -> None:
    code = await obtain_code(h, extra={"resource": [OTHER_RESOURCE], "scope": ["tools:read"]})
    response = await exchange_code(h, code)
    assert response.token_type == "Bearer"
    assert response.expires_in == h.deps.config.access_token_ttl
    assert response.scope == "tools:read"
    assert response.refresh_token is not None
    claims = decode_access_token(h, response.access_token).claims
    assert claims["aud"] == OTHER_RESOURCE
    assert claims["sub"] == USER_ID
    assert claims["client_id"] == PUBLIC_ID
    record = h.storage.codes[h.hasher.hash(code)]
    assert record.consumed_at == h.clock.now()
    # The refresh token is stored only as a hash, bound to the same grant.
    assert response.refresh_token not in storage_dump(h.storage)
    stored = h.storage.refresh_tokens[h.hasher.hash(response.refresh_token)]
    assert stored.grant_id == record.grant_id
    assert stored.scopes == frozenset({"tools:read"})
    assert stored.resource == OTHER_RESOURCE
    assert stored.expires_at == h.clock.now() + h.deps.config.refresh_token_ttl


async def test_scope_defaults_to_what_was_granted(h: Harness) -> None:
    response = await exchange_code(h, await obtain_code(h))
    assert set(response.scope.split(" ")) == ALL_SCOPES
