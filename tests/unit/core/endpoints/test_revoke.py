"""The revocation endpoint (RFC 7009): client authentication, the hint, and what gets revoked.

RFC 7009 decides what is asserted here: every token the client may not or cannot revoke
(unknown, expired, already revoked, another client's) is answered like a successful
revocation and changes nothing (§2.1, §2.2); only an unknown ``token_type_hint`` is an error,
``unsupported_token_type`` (§2.2.1); client authentication fails as at the token endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.endpoints.revoke import revocation_endpoint
from ostiary.core.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    OAuthError,
    UnsupportedTokenType,
)
from ostiary.crypto.jwt import JwtSigner
from ostiary.crypto.keys import generate_signing_key, load_signing_key

from ...support import (
    CONFIDENTIAL_ID,
    ENCRYPTION_KEY,
    PUBLIC_ID,
    Harness,
    add_user,
    decode_access_token,
    public_credentials,
    refresh,
    register_confidential_client,
    register_public_client,
)
from .presented_support import (
    OTHER_ID,
    RecordedEvents,
    confidential_credentials,
    confidential_pair,
    grant_of,
    is_revoked,
    public_pair,
    reading,
    refresh_of,
)

Params = dict[str, list[str]]


@pytest.fixture
def events() -> RecordedEvents:
    return RecordedEvents()


@pytest.fixture
async def r(h: Harness, events: RecordedEvents) -> Harness:
    await register_public_client(h.storage)
    await register_public_client(h.storage, OTHER_ID)
    await register_confidential_client(h.storage, h.hasher)
    await add_user(h.storage)
    return reading(h, events)


def revoke_params(token: str, hint: str | None = None) -> Params:
    params: Params = {"token": [token]}
    if hint is not None:
        params["token_type_hint"] = [hint]
    return params


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
async def test_revoking_the_refresh_token_revokes_the_grant(
    r: Harness, events: RecordedEvents, hint: str | None
) -> None:
    pair = await public_pair(r, PUBLIC_ID)

    await revocation_endpoint(revoke_params(refresh_of(pair), hint), public_credentials(), r.deps)

    assert await is_revoked(r, pair)
    with pytest.raises(InvalidGrant):
        await refresh(r, refresh_of(pair))
    assert events.revocations == [
        {
            "event": "token_revoked",
            "outcome": "success",
            "user_id": "user-1",
            "client_id": PUBLIC_ID,
            "grant_id": grant_of(r, pair),
            "detail": "refresh_token",
        }
    ]


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
async def test_revoking_the_access_token_revokes_its_grant(
    r: Harness, events: RecordedEvents, hint: str | None
) -> None:
    pair = await public_pair(r, PUBLIC_ID)

    await revocation_endpoint(revoke_params(pair.access_token, hint), public_credentials(), r.deps)

    assert await is_revoked(r, pair)
    with pytest.raises(InvalidGrant):  # the refresh token died with the grant
        await refresh(r, refresh_of(pair))
    assert [e["detail"] for e in events.revocations] == ["access_token"]
    assert events.revocations[0]["grant_id"] == grant_of(r, pair)


async def test_a_confidential_client_revokes_with_its_secret(
    r: Harness, events: RecordedEvents
) -> None:
    pair = await confidential_pair(r)

    await revocation_endpoint(revoke_params(refresh_of(pair)), confidential_credentials(), r.deps)

    assert await is_revoked(r, pair)
    assert events.revocations[0]["client_id"] == CONFIDENTIAL_ID


async def test_a_rotated_refresh_token_still_revokes_its_grant(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    await refresh(r, refresh_of(pair))

    await revocation_endpoint(revoke_params(refresh_of(pair)), public_credentials(), r.deps)

    assert await is_revoked(r, pair)


@pytest.mark.parametrize("kind", ["access", "refresh"])
async def test_another_clients_token_is_left_alone(
    r: Harness, events: RecordedEvents, kind: str
) -> None:
    pair = await public_pair(r, OTHER_ID)
    token = pair.access_token if kind == "access" else refresh_of(pair)

    await revocation_endpoint(revoke_params(token), public_credentials(), r.deps)

    assert not await is_revoked(r, pair)
    assert (await refresh(r, refresh_of(pair), public_credentials(OTHER_ID))).refresh_token
    assert events.revocations == []


async def test_an_unknown_token_changes_nothing(r: Harness, events: RecordedEvents) -> None:
    pair = await public_pair(r, PUBLIC_ID)

    await revocation_endpoint(revoke_params("x" * 43), public_credentials(), r.deps)
    await revocation_endpoint(revoke_params("a.b.c"), public_credentials(), r.deps)

    assert not await is_revoked(r, pair)
    assert events.revocations == []


async def test_an_already_revoked_token_is_accepted_once_more_without_an_event(
    r: Harness, events: RecordedEvents
) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    params = revoke_params(refresh_of(pair))

    await revocation_endpoint(params, public_credentials(), r.deps)
    await revocation_endpoint(params, public_credentials(), r.deps)
    await revocation_endpoint(revoke_params(pair.access_token), public_credentials(), r.deps)

    assert len(events.revocations) == 1


async def test_an_expired_access_token_revokes_nothing(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    r.clock.advance(r.deps.config.access_token_ttl)

    await revocation_endpoint(revoke_params(pair.access_token), public_credentials(), r.deps)

    assert not await is_revoked(r, pair)


async def test_an_access_token_signed_by_another_key_revokes_nothing(r: Harness) -> None:
    pair = await public_pair(r, PUBLIC_ID)
    claims: dict[str, Any] = decode_access_token(r, pair.access_token).claims
    stranger = JwtSigner(load_signing_key(generate_signing_key(ENCRYPTION_KEY, 0), ENCRYPTION_KEY))

    await revocation_endpoint(revoke_params(stranger.sign(claims)), public_credentials(), r.deps)

    assert not await is_revoked(r, pair)


async def test_without_an_access_token_reader_jwts_are_unknown(h: Harness) -> None:
    await register_public_client(h.storage)
    pair = await public_pair(h, PUBLIC_ID)

    await revocation_endpoint(revoke_params(pair.access_token), public_credentials(), h.deps)

    assert not await is_revoked(h, pair)


@pytest.mark.parametrize(
    ("params", "credentials", "expected"),
    [
        pytest.param(
            {"token": ["t"], "token_type_hint": ["id_token"]},
            public_credentials(),
            UnsupportedTokenType,
            id="unknown-hint",
        ),
        pytest.param({}, public_credentials(), InvalidRequest, id="missing-token"),
        pytest.param({"token": [""]}, public_credentials(), InvalidRequest, id="empty-token"),
        pytest.param(
            {"token": ["a", "b"]}, public_credentials(), InvalidRequest, id="repeated-token"
        ),
        pytest.param(
            {"token": ["t"], "token_type_hint": ["access_token", "refresh_token"]},
            public_credentials(),
            InvalidRequest,
            id="repeated-hint",
        ),
        pytest.param({"token": ["t"]}, ClientCredentials(), InvalidClient, id="no-client"),
        pytest.param(
            {"token": ["t"]}, public_credentials("nobody"), InvalidClient, id="unknown-client"
        ),
        pytest.param(
            {"token": ["t"]},
            ClientCredentials(client_id=CONFIDENTIAL_ID),
            InvalidClient,
            id="confidential-client-without-secret",
        ),
        pytest.param(
            {"token": ["t"]},
            confidential_credentials("wrong-secret"),
            InvalidClient,
            id="wrong-secret",
        ),
        pytest.param(
            {"token": ["t"]},
            ClientCredentials(client_id=PUBLIC_ID, client_secret="s"),
            InvalidClient,
            id="public-client-sending-a-secret",
        ),
        pytest.param(
            {"token": ["t"]},
            ClientCredentials(basic=(CONFIDENTIAL_ID, "s"), client_secret="s"),
            InvalidRequest,
            id="two-authentication-methods",
        ),
    ],
)
async def test_refusals(
    r: Harness,
    params: Params,
    credentials: ClientCredentials,
    expected: type[OAuthError],
) -> None:
    with pytest.raises(expected) as caught:
        await revocation_endpoint(params, credentials, r.deps)
    assert type(caught.value) is expected


async def test_client_authentication_is_checked_before_the_hint(r: Harness) -> None:
    with pytest.raises(InvalidClient):
        await revocation_endpoint(
            {"token": ["t"], "token_type_hint": ["id_token"]}, public_credentials("x"), r.deps
        )
