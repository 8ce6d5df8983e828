"""The refresh token grant (OAuth 2.1 §4.3): narrowing, rotation, reuse, grace, sliding expiry."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.endpoints.token import token_endpoint
from ostiary.core.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    UnauthorizedClient,
)
from ostiary.core.grants.refresh_token import refresh_access_token
from ostiary.core.models import GrantType, RefreshToken
from ostiary.core.responses import TokenResponse
from ostiary.crypto.sealing import TokenSealer
from ostiary.storage.memory import MemoryStorage

from ...support import (
    ALL_SCOPES,
    OTHER_RESOURCE,
    PUBLIC_ID,
    RESOURCE,
    Harness,
    add_user,
    decode_access_token,
    public_credentials,
    refresh,
    register_public_client,
    storage_dump,
    token_pair,
)

OTHER_ID = "other-app"


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    await register_public_client(h.storage)
    await register_public_client(h.storage, OTHER_ID)
    await add_user(h.storage)


async def first_refresh_token(h: Harness, **authorize: list[str]) -> str:
    pair = await token_pair(h, **authorize)
    assert pair.refresh_token is not None
    return pair.refresh_token


def scope_set(response: TokenResponse) -> set[str]:
    return set(response.scope.split(" "))


@pytest.mark.parametrize(
    ("authorize", "request_extra", "credentials", "advance", "expected"),
    [
        pytest.param({}, {"refresh_token": ["x" * 43]}, None, 0, InvalidGrant, id="unknown-token"),
        pytest.param(
            {}, {"refresh_token": None}, None, 0, InvalidRequest, id="missing-refresh_token"
        ),
        pytest.param(
            {},
            {},
            public_credentials(OTHER_ID),
            0,
            InvalidGrant,
            id="token-of-another-client",
        ),
        pytest.param({}, {}, None, 30 * 24 * 3600, InvalidGrant, id="expired-at-ttl"),
        pytest.param(
            {"scope": ["tools:read"]},
            {"scope": ["tools:read tools:execute"]},
            None,
            0,
            InvalidScope,
            id="scope-widening",
        ),
        pytest.param({}, {"scope": ["admin"]}, None, 0, InvalidScope, id="unknown-scope"),
        pytest.param(
            {}, {"scope": ["tools:read  prompts:read"]}, None, 0, InvalidScope, id="malformed"
        ),
        pytest.param(
            {}, {"resource": [OTHER_RESOURCE]}, None, 0, InvalidTarget, id="resource-mismatch"
        ),
        pytest.param(
            {"resource": [OTHER_RESOURCE]},
            {"resource": [RESOURCE]},
            None,
            0,
            InvalidTarget,
            id="resource-mismatch-other-way",
        ),
        pytest.param({}, {"resource": ["/mcp"]}, None, 0, InvalidTarget, id="relative-resource"),
    ],
)
async def test_refresh_errors(
    h: Harness,
    *,
    authorize: dict[str, list[str]],
    request_extra: dict[str, list[str] | None],
    credentials: ClientCredentials | None,
    advance: int,
    expected: type[OAuthError],
) -> None:
    token = await first_refresh_token(h, **authorize)
    before = dict(h.storage.refresh_tokens)
    h.clock.advance(advance)
    params: dict[str, list[str]] = {"grant_type": ["refresh_token"], "refresh_token": [token]}
    for name, value in request_extra.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    with pytest.raises(OAuthError) as caught:
        await token_endpoint(params, credentials or public_credentials(), h.deps)
    assert type(caught.value) is expected
    assert h.storage.refresh_tokens == before  # nothing rotated
    # A refused request does not burn the token: it still works as it was.
    if advance == 0:
        assert (await refresh(h, token)).refresh_token is not None


async def test_expiry_boundary(h: Harness) -> None:
    token = await first_refresh_token(h)
    h.clock.advance(h.deps.config.refresh_token_ttl - 1)
    assert (await refresh(h, token)).refresh_token is not None
    token = await first_refresh_token(h)
    h.clock.advance(h.deps.config.refresh_token_ttl)
    with pytest.raises(InvalidGrant) as caught:
        await refresh(h, token)
    assert caught.value.description == "refresh token has expired"


async def test_scope_narrowing_keeps_the_full_grant_on_the_refresh_token(h: Harness) -> None:
    token = await first_refresh_token(h)
    narrowed = await refresh(h, token, scope=["tools:read"])
    assert narrowed.scope == "tools:read"
    assert decode_access_token(h, narrowed.access_token).claims["scope"] == "tools:read"
    assert narrowed.refresh_token is not None
    successor = h.storage.refresh_tokens[h.hasher.hash(narrowed.refresh_token)]
    assert successor.scopes == ALL_SCOPES

    full = await refresh(h, narrowed.refresh_token, scope=[" ".join(sorted(ALL_SCOPES))])
    assert scope_set(full) == ALL_SCOPES
    assert full.refresh_token is not None
    default = await refresh(h, full.refresh_token)
    assert scope_set(default) == ALL_SCOPES


async def test_same_resource_in_other_spelling_is_accepted(h: Harness) -> None:
    token = await first_refresh_token(h)
    response = await refresh(h, token, resource=["HTTPS://AS.EXAMPLE.COM/mcp/"])
    assert decode_access_token(h, response.access_token).claims["aud"] == RESOURCE


async def test_rotation_issues_a_new_pair_and_stores_only_hashes(h: Harness) -> None:
    pair = await token_pair(h)
    assert pair.refresh_token is not None
    rotated = await refresh(h, pair.refresh_token)
    assert rotated.refresh_token is not None
    assert rotated.refresh_token != pair.refresh_token
    assert rotated.access_token != pair.access_token
    dump = storage_dump(h.storage)
    assert pair.refresh_token not in dump
    assert rotated.refresh_token not in dump
    assert rotated.access_token not in dump
    old = h.storage.refresh_tokens[h.hasher.hash(pair.refresh_token)]
    assert old.rotated_at == h.clock.now()
    assert old.successor is not None
    # The sealed successor can only be opened with the old refresh token.
    body = json.loads(h.deps.sealer.unseal(pair.refresh_token, old.successor))
    assert body["refresh_token"] == rotated.refresh_token


async def test_retry_within_grace_returns_the_same_pair(h: Harness) -> None:
    token = await first_refresh_token(h)
    rotated = await refresh(h, token)
    grace = h.deps.config.refresh_grace
    h.clock.advance(grace)
    retry = await refresh(h, token)
    assert retry.refresh_token == rotated.refresh_token
    assert retry.access_token == rotated.access_token
    assert retry.scope == rotated.scope
    assert retry.expires_in == rotated.expires_in - grace
    # The successor is still live.
    assert rotated.refresh_token is not None
    assert (await refresh(h, rotated.refresh_token)).refresh_token is not None


async def test_reuse_after_grace_revokes_the_whole_grant(h: Harness) -> None:
    token = await first_refresh_token(h)
    rotated = await refresh(h, token)
    assert rotated.refresh_token is not None
    h.clock.advance(h.deps.config.refresh_grace + 1)
    with pytest.raises(InvalidGrant) as caught:
        await refresh(h, token)
    assert caught.value.description == "refresh token was already used; the grant is revoked"
    (grant,) = h.storage.grants.values()
    assert grant.revoked_at == h.clock.now()
    with pytest.raises(InvalidGrant):
        await refresh(h, rotated.refresh_token)
    with pytest.raises(InvalidGrant):
        await refresh(h, token)


async def test_rotated_token_without_a_sealed_successor_is_treated_as_reuse(h: Harness) -> None:
    token = await first_refresh_token(h)
    await refresh(h, token)
    token_hash = h.hasher.hash(token)
    h.storage.refresh_tokens[token_hash] = replace(
        h.storage.refresh_tokens[token_hash], successor=None
    )
    with pytest.raises(InvalidGrant):
        await refresh(h, token)  # within the grace window, but nothing to return
    (grant,) = h.storage.grants.values()
    assert grant.revoked_at == h.clock.now()


async def test_reuse_of_a_rotated_token_after_its_expiry_still_revokes(h: Harness) -> None:
    token = await first_refresh_token(h)
    rotated = await refresh(h, token)
    assert rotated.refresh_token is not None
    h.clock.advance(h.deps.config.refresh_token_ttl + 1)
    with pytest.raises(InvalidGrant):
        await refresh(h, token)
    (grant,) = h.storage.grants.values()
    assert grant.revoked_at is not None


async def test_reuse_by_another_client_neither_succeeds_nor_revokes(h: Harness) -> None:
    token = await first_refresh_token(h)
    await refresh(h, token)
    with pytest.raises(InvalidGrant):
        await refresh(h, token, public_credentials(OTHER_ID))
    (grant,) = h.storage.grants.values()
    assert grant.revoked_at is None


async def test_sliding_expiry_extends_with_each_rotation(h: Harness) -> None:
    ttl = h.deps.config.refresh_token_ttl
    token = await first_refresh_token(h)
    start = h.clock.now()
    expiries = [h.storage.refresh_tokens[h.hasher.hash(token)].expires_at]
    for _ in range(3):
        h.clock.advance(ttl - 1)
        response = await refresh(h, token)
        assert response.refresh_token is not None
        token = response.refresh_token
        record = h.storage.refresh_tokens[h.hasher.hash(token)]
        assert record.expires_at == h.clock.now() + ttl
        expiries.append(record.expires_at)
    assert expiries == sorted(set(expiries))
    assert h.clock.now() > start + ttl  # well past the first token's lifetime


async def test_refresh_handler_refuses_a_client_without_the_refresh_grant(h: Harness) -> None:
    token = await first_refresh_token(h)
    client = h.storage.clients[PUBLIC_ID]
    code_only = replace(client, grant_types=(GrantType.AUTHORIZATION_CODE,))
    with pytest.raises(UnauthorizedClient):
        await refresh_access_token({"refresh_token": [token]}, code_only, h.deps)


class RacingStorage(MemoryStorage):
    """A store where another request rotates (or revokes) just before this one can."""

    def __init__(self, base: MemoryStorage, revoke: bool) -> None:
        super().__init__()
        self.__dict__.update(base.__dict__)
        self.revoke = revoke
        self.winner: TokenResponse | None = None
        self.presented = ""

    async def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, sealed: bytes, now: int
    ) -> bool:
        record = self.refresh_tokens[token_hash]
        if self.revoke:
            await self.revoke_grant(record.grant_id, now)
            return False
        self.winner = TokenResponse("winner-access", 3600, "tools:read", "winner-" + "r" * 40)
        body = json.dumps(self.winner.to_json()).encode()
        winner_record = replace(successor, token_hash="winner-hash")
        won = await super().rotate_refresh_token(
            token_hash, winner_record, TokenSealer().seal(self.presented, body), now
        )
        assert won
        return False


async def test_lost_rotation_race_returns_the_winners_pair(h: Harness) -> None:
    token = await first_refresh_token(h)
    racing = RacingStorage(h.storage, revoke=False)
    racing.presented = token
    deps = replace(h.deps, storage=racing)
    client = h.storage.clients[PUBLIC_ID]
    response = await refresh_access_token({"refresh_token": [token]}, client, deps)
    assert response == racing.winner


async def test_lost_race_against_a_revocation_is_invalid_grant(h: Harness) -> None:
    token = await first_refresh_token(h)
    racing = RacingStorage(h.storage, revoke=True)
    deps = replace(h.deps, storage=racing)
    client = h.storage.clients[PUBLIC_ID]
    with pytest.raises(InvalidGrant) as caught:
        await refresh_access_token({"refresh_token": [token]}, client, deps)
    assert caught.value.description == "refresh token is invalid"
