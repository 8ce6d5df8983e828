"""The storage contract (``ostiary.storage.protocols``), run against every backend.

Records are compared field by field, types included, so a lost or mis-decoded column fails.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest

from ostiary.core.models import (
    ApplicationType,
    AuditEvent,
    AuthMethod,
    AuthorizationCode,
    Client,
    ClientId,
    Consent,
    Grant,
    GrantId,
    GrantType,
    RefreshToken,
    SigningKey,
    User,
    UserId,
)
from ostiary.storage.protocols import DuplicateError, Storage

NOW = 1_700_000_000


def same(actual: Any, expected: Any) -> None:
    """Equal, and every field of the same type (a str is not an enum, a list not a tuple)."""
    assert actual == expected
    for f in fields(expected):
        got, want = getattr(actual, f.name), getattr(expected, f.name)
        assert type(got) is type(want), f"{f.name}: {type(got)} is not {type(want)}"
        if isinstance(want, tuple | frozenset):
            assert [type(x) for x in sorted(got)] == [type(x) for x in sorted(want)], f.name


def client(n: int = 1, **kw: Any) -> Client:
    base = Client(
        client_id=ClientId(f"client-{n}"),
        client_name=f"Client {n} ✓",
        redirect_uris=("https://b.example/cb", "http://127.0.0.1:8765/callback"),
        token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_POST,
        grant_types=(GrantType.CLIENT_CREDENTIALS, GrantType.REFRESH_TOKEN),
        scope=frozenset({"mcp:read", "mcp:write"}),
        secret_hash=f"secret-hash-{n}",
        created_at=NOW + n,
        application_type=ApplicationType.NATIVE,
        jwks={"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": f"k{n}"}]},
        jwks_uri=f"https://b.example/jwks/{n}",
        client_secret_expires_at=NOW + 3600,
        dynamic=True,
        last_used_at=NOW + 2,
        extra_metadata={"client_uri": "https://b.example", "contacts": ["ops@b.example"]},
    )
    return replace(base, **kw)


def user(name: str = "alice", **kw: Any) -> User:
    return replace(User(UserId(f"uid-{name}"), name, f"$argon2id$...{name}", NOW), **kw)


def grant(n: int = 1, **kw: Any) -> Grant:
    base = Grant(
        grant_id=GrantId(f"grant-{n}"),
        user_id=UserId("uid-alice"),
        client_id=ClientId("client-1"),
        scopes=frozenset({"mcp:read", "profile"}),
        resource="https://mcp.example/mcp",
        created_at=NOW,
        last_used_at=NOW + 5,
        revoked_at=None,
    )
    return replace(base, **kw)


def code(n: int = 1, **kw: Any) -> AuthorizationCode:
    base = AuthorizationCode(
        code_hash=f"code-hash-{n}",
        grant_id=GrantId("grant-1"),
        client_id=ClientId("client-1"),
        user_id=UserId("uid-alice"),
        redirect_uri="http://127.0.0.1:8765/callback",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        resource="https://mcp.example/mcp",
        scopes=frozenset({"mcp:read"}),
        expires_at=NOW + 60,
        created_at=NOW,
    )
    return replace(base, **kw)


def token(n: int = 1, **kw: Any) -> RefreshToken:
    base = RefreshToken(
        token_hash=f"rt-hash-{n}",
        grant_id=GrantId("grant-1"),
        client_id=ClientId("client-1"),
        user_id=UserId("uid-alice"),
        scopes=frozenset({"mcp:read", "profile"}),
        resource="https://mcp.example/mcp",
        expires_at=NOW + 3600,
        created_at=NOW,
    )
    return replace(base, **kw)


def key(kid: str = "k1", created_at: int = NOW, **kw: Any) -> SigningKey:
    base = SigningKey(
        kid=kid,
        alg="ES256",
        private_key=b"\x00encrypted\xffPEM" + kid.encode(),
        public_jwk={"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy", "kid": kid},
        created_at=created_at,
    )
    return replace(base, **kw)


# clients


async def test_client_round_trip(store: Storage) -> None:
    full = client(1)
    minimal = Client(ClientId("public"), "Public", ("https://a.example/cb",))
    no_scope = client(3, scope=frozenset(), secret_hash=None)
    for c in (full, minimal, no_scope):
        await store.save_client(c)
    for c in (full, minimal, no_scope):
        got = await store.get_client(c.client_id)
        same(got, c)
    assert (await store.get_client(ClientId("public"))) == minimal
    assert minimal.scope is None
    assert await store.get_client(ClientId("nobody")) is None


async def test_client_duplicate(store: Storage) -> None:
    await store.save_client(client(1))
    with pytest.raises(DuplicateError):
        await store.save_client(client(1, client_name="other"))
    same(await store.get_client(ClientId("client-1")), client(1))


async def test_list_clients_by_creation_then_id(store: Storage) -> None:
    made = [
        client(3, created_at=NOW + 1),
        client(1, created_at=NOW + 2),
        client(2, created_at=NOW + 1),
    ]
    for c in made:
        await store.save_client(c)
    listed = await store.list_clients()
    assert [c.client_id for c in listed] == ["client-2", "client-3", "client-1"]
    for c in listed:
        same(c, next(m for m in made if m.client_id == c.client_id))


async def test_delete_client_revokes_its_grants(store: Storage) -> None:
    await store.save_client(client(1))
    await store.save_client(client(2))
    await store.save_grant(grant(1))
    await store.save_grant(grant(2, revoked_at=NOW - 100))
    await store.save_grant(grant(3, client_id=ClientId("client-2")))
    await store.save_refresh_token(token(1))

    assert await store.delete_client(ClientId("client-1"), NOW + 10) is True
    assert await store.get_client(ClientId("client-1")) is None
    assert [c.client_id for c in await store.list_clients()] == ["client-2"]
    same(await store.get_grant(GrantId("grant-1")), grant(1, revoked_at=NOW + 10))
    same(await store.get_grant(GrantId("grant-2")), grant(2, revoked_at=NOW - 100))
    same(await store.get_grant(GrantId("grant-3")), grant(3, client_id=ClientId("client-2")))
    assert await store.get_refresh_token("rt-hash-1") is None
    assert await store.delete_client(ClientId("client-1"), NOW + 11) is False
    assert await store.delete_client(ClientId("nobody"), NOW) is False


# users


async def test_user_round_trip_and_lookup(store: Storage) -> None:
    alice = user("alice")
    await store.add_user(alice)
    same(await store.get_user(UserId("uid-alice")), alice)
    same(await store.get_user_by_name("alice"), alice)
    assert await store.get_user(UserId("uid-bob")) is None
    assert await store.get_user_by_name("bob") is None
    assert await store.get_user_by_name("Alice") is None


async def test_user_duplicate_name(store: Storage) -> None:
    await store.add_user(user("alice"))
    with pytest.raises(DuplicateError):
        await store.add_user(user("alice", user_id=UserId("uid-other")))
    assert await store.count_users() == 1
    same(await store.get_user_by_name("alice"), user("alice"))


async def test_list_and_count_users(store: Storage) -> None:
    assert await store.list_users() == []
    assert await store.count_users() == 0
    names = ["carol", "alice", "Zed", "bob"]
    for name in names:
        await store.add_user(user(name, created_at=NOW + len(name)))
    listed = await store.list_users()
    assert [u.username for u in listed] == sorted(names)  # code-point order: "Zed" first
    for u in listed:
        same(u, user(u.username, created_at=NOW + len(u.username)))
    assert await store.count_users() == 4


async def test_set_password(store: Storage) -> None:
    await store.add_user(user("alice"))
    assert await store.set_password("alice", "$argon2id$new") is True
    same(await store.get_user_by_name("alice"), user("alice", password_hash="$argon2id$new"))
    assert await store.set_password("bob", "$argon2id$x") is False


async def test_delete_user_revokes_grants_and_forgets_consents(store: Storage) -> None:
    await store.add_user(user("alice"))
    await store.add_user(user("bob"))
    await store.save_grant(grant(1))
    await store.save_grant(grant(2, user_id=UserId("uid-bob")))
    await store.save_refresh_token(token(1))
    mine = Consent(UserId("uid-alice"), ClientId("client-1"), frozenset({"a"}), NOW)
    theirs = Consent(UserId("uid-bob"), ClientId("client-1"), frozenset({"b"}), NOW)
    await store.save_consent(mine)
    await store.save_consent(theirs)

    assert await store.delete_user("alice", NOW + 7) is True
    assert await store.get_user_by_name("alice") is None
    assert await store.get_user(UserId("uid-alice")) is None
    assert await store.count_users() == 1
    same(await store.get_grant(GrantId("grant-1")), grant(1, revoked_at=NOW + 7))
    same(await store.get_grant(GrantId("grant-2")), grant(2, user_id=UserId("uid-bob")))
    assert await store.get_refresh_token("rt-hash-1") is None
    assert await store.get_consent(UserId("uid-alice"), ClientId("client-1")) is None
    same(await store.get_consent(UserId("uid-bob"), ClientId("client-1")), theirs)
    assert await store.delete_user("alice", NOW + 8) is False
    assert await store.delete_user("nobody", NOW) is False


# grants


async def test_grant_round_trip(store: Storage) -> None:
    live = grant(1)
    bare = grant(2, last_used_at=None, scopes=frozenset())
    revoked = grant(3, revoked_at=NOW + 1)
    for g in (live, bare, revoked):
        await store.save_grant(g)
    for g in (live, bare, revoked):
        same(await store.get_grant(g.grant_id), g)
    assert await store.get_grant(GrantId("nope")) is None
    with pytest.raises(DuplicateError):
        await store.save_grant(grant(1, resource="https://other.example"))
    same(await store.get_grant(GrantId("grant-1")), live)


async def test_revoke_grant_once(store: Storage) -> None:
    await store.save_grant(grant(1))
    assert await store.revoke_grant(GrantId("grant-1"), NOW + 3) is True
    same(await store.get_grant(GrantId("grant-1")), grant(1, revoked_at=NOW + 3))
    assert await store.revoke_grant(GrantId("grant-1"), NOW + 4) is False
    same(await store.get_grant(GrantId("grant-1")), grant(1, revoked_at=NOW + 3))
    assert await store.revoke_grant(GrantId("nope"), NOW) is False


# authorization codes


async def test_code_consumed_once(store: Storage) -> None:
    saved = code(1)
    await store.save_grant(grant(1))
    await store.save_authorization_code(saved)
    first = await store.consume_authorization_code("code-hash-1", NOW + 2)
    assert first is not None
    record, won = first
    assert won is True
    same(record, replace(saved, consumed_at=NOW + 2))
    again = await store.consume_authorization_code("code-hash-1", NOW + 3)
    assert again is not None
    assert again[1] is False
    same(again[0], replace(saved, consumed_at=NOW + 2))
    assert await store.consume_authorization_code("unknown", NOW) is None


async def test_code_of_a_revoked_or_missing_grant_is_not_consumed(store: Storage) -> None:
    await store.save_grant(grant(1))
    await store.save_authorization_code(code(1))
    await store.save_authorization_code(code(2, grant_id=GrantId("missing")))
    assert await store.revoke_grant(GrantId("grant-1"), NOW + 1) is True
    for code_hash, saved in (
        ("code-hash-1", code(1)),
        ("code-hash-2", code(2, grant_id=GrantId("missing"))),
    ):
        result = await store.consume_authorization_code(code_hash, NOW + 2)
        assert result is not None
        assert result[1] is False
        same(result[0], saved)  # not marked consumed


async def test_code_round_trip_and_duplicate(store: Storage) -> None:
    used = code(2, consumed_at=NOW + 1, scopes=frozenset())
    await store.save_authorization_code(used)
    replay = await store.consume_authorization_code("code-hash-2", NOW + 9)
    assert replay is not None
    assert replay[1] is False
    same(replay[0], used)
    with pytest.raises(DuplicateError):
        await store.save_authorization_code(code(2))


# refresh tokens


async def test_refresh_round_trip(store: Storage) -> None:
    await store.save_grant(grant(1))
    fresh = token(1)
    retired = token(2, rotated_at=NOW + 1, successor=b"\x00sealed\xff" * 20)
    await store.save_refresh_token(fresh)
    await store.save_refresh_token(retired)
    same(await store.get_refresh_token("rt-hash-1"), fresh)
    same(await store.get_refresh_token("rt-hash-2"), retired)
    assert await store.get_refresh_token("unknown") is None
    with pytest.raises(DuplicateError):
        await store.save_refresh_token(token(1, resource="https://x.example"))
    same(await store.get_refresh_token("rt-hash-1"), fresh)


async def test_refresh_without_grant_is_unknown(store: Storage) -> None:
    await store.save_refresh_token(token(1, grant_id=GrantId("missing")))
    assert await store.get_refresh_token("rt-hash-1") is None
    assert await store.rotate_refresh_token("rt-hash-1", token(2), b"s", NOW) is False
    assert await store.get_refresh_token("rt-hash-2") is None


async def test_rotate_once(store: Storage) -> None:
    await store.save_grant(grant(1))
    await store.save_refresh_token(token(1))
    successor = token(2, created_at=NOW + 10, expires_at=NOW + 7200)
    sealed = b"\x01sealed response\x00" * 8

    assert await store.rotate_refresh_token("rt-hash-1", successor, sealed, NOW + 10) is True
    old = await store.get_refresh_token("rt-hash-1")
    same(old, token(1, rotated_at=NOW + 10, successor=sealed))
    same(await store.get_refresh_token("rt-hash-2"), successor)

    other = token(3)
    assert await store.rotate_refresh_token("rt-hash-1", other, b"x", NOW + 11) is False
    assert await store.get_refresh_token("rt-hash-3") is None
    same(
        await store.get_refresh_token("rt-hash-1"), token(1, rotated_at=NOW + 10, successor=sealed)
    )
    # the successor is live and rotates in turn
    assert await store.rotate_refresh_token("rt-hash-2", other, b"y", NOW + 12) is True
    same(await store.get_refresh_token("rt-hash-3"), other)


async def test_expired_token_does_not_rotate(store: Storage) -> None:
    await store.save_grant(grant(1))
    await store.save_refresh_token(token(1, expires_at=NOW))
    await store.save_refresh_token(token(2, expires_at=NOW + 1))
    assert await store.rotate_refresh_token("rt-hash-1", token(3), b"s", NOW) is False
    assert await store.get_refresh_token("rt-hash-3") is None
    same(await store.get_refresh_token("rt-hash-1"), token(1, expires_at=NOW))
    assert await store.rotate_refresh_token("rt-hash-2", token(4), b"s", NOW) is True


async def test_revoked_grant_hides_and_freezes_tokens(store: Storage) -> None:
    await store.save_grant(grant(1))
    await store.save_refresh_token(token(1))
    assert await store.revoke_grant(GrantId("grant-1"), NOW) is True
    assert await store.get_refresh_token("rt-hash-1") is None
    assert await store.rotate_refresh_token("rt-hash-1", token(2), b"s", NOW) is False
    assert await store.get_refresh_token("rt-hash-2") is None
    assert await store.rotate_refresh_token("unknown", token(3), b"s", NOW) is False


async def test_rotate_to_existing_hash_changes_nothing(store: Storage) -> None:
    await store.save_grant(grant(1))
    await store.save_refresh_token(token(1))
    await store.save_refresh_token(token(2))
    with pytest.raises(DuplicateError):
        await store.rotate_refresh_token("rt-hash-1", token(2, resource="x"), b"s", NOW)
    same(await store.get_refresh_token("rt-hash-1"), token(1))
    same(await store.get_refresh_token("rt-hash-2"), token(2))
    assert await store.rotate_refresh_token("rt-hash-1", token(3), b"s", NOW) is True


# consents


async def test_consent_upsert(store: Storage) -> None:
    uid, cid = UserId("uid-alice"), ClientId("client-1")
    assert await store.get_consent(uid, cid) is None
    first = Consent(uid, cid, frozenset({"mcp:read"}), NOW)
    await store.save_consent(first)
    same(await store.get_consent(uid, cid), first)
    second = Consent(uid, cid, frozenset({"mcp:read", "mcp:write"}), NOW + 5)
    await store.save_consent(second)
    same(await store.get_consent(uid, cid), second)
    other = Consent(uid, ClientId("client-2"), frozenset(), NOW + 6)
    await store.save_consent(other)
    same(await store.get_consent(uid, ClientId("client-2")), other)
    same(await store.get_consent(uid, cid), second)
    assert await store.get_consent(UserId("uid-bob"), cid) is None


# signing keys


async def test_signing_keys(store: Storage) -> None:
    assert await store.list_signing_keys() == []
    made = [key("k-b", NOW + 1), key("k-c", NOW), key("k-a", NOW + 1, retired_at=NOW + 2)]
    for k in made:
        await store.save_signing_key(k)
    listed = await store.list_signing_keys()
    assert [k.kid for k in listed] == ["k-c", "k-a", "k-b"]
    for k in listed:
        same(k, next(m for m in made if m.kid == k.kid))
    with pytest.raises(DuplicateError):
        await store.save_signing_key(key("k-b", NOW + 9))

    assert await store.retire_signing_key("k-b", NOW + 3) is True
    assert await store.retire_signing_key("k-b", NOW + 4) is False
    assert await store.retire_signing_key("k-a", NOW + 4) is False
    assert await store.retire_signing_key("nope", NOW) is False
    by_kid = {k.kid: k for k in await store.list_signing_keys()}
    same(by_kid["k-b"], key("k-b", NOW + 1, retired_at=NOW + 3))
    same(by_kid["k-a"], made[2])
    same(by_kid["k-c"], made[1])


# maintenance


async def test_purge_expired_keeps_live_and_rotated_records(store: Storage) -> None:
    await store.save_grant(grant(1))
    await store.save_authorization_code(code(1, expires_at=NOW - 1))
    await store.save_authorization_code(code(2, expires_at=NOW + 60))
    await store.save_refresh_token(token(1, expires_at=NOW - 1))
    await store.save_refresh_token(
        token(2, expires_at=NOW + 10, rotated_at=NOW - 50, successor=b"s")
    )
    await store.save_refresh_token(token(3, expires_at=NOW + 3600))

    assert await store.purge_expired(NOW) == 2
    assert await store.consume_authorization_code("code-hash-1", NOW) is None
    assert await store.consume_authorization_code("code-hash-2", NOW) is not None
    assert await store.get_refresh_token("rt-hash-1") is None
    # a rotated token stays until it expires, so replaying it is still detected
    assert await store.get_refresh_token("rt-hash-2") is not None
    assert await store.get_refresh_token("rt-hash-3") is not None
    assert await store.purge_expired(NOW) == 0


async def test_user_id_cannot_be_reused(store: Storage) -> None:
    await store.add_user(user("alice"))
    with pytest.raises(DuplicateError):
        await store.add_user(user("alice", username="alice2"))
    assert [u.username for u in await store.list_users()] == ["alice"]


async def test_operator_client_defaults_round_trip(store: Storage) -> None:
    plain = Client(ClientId("plain"), "Plain", ("https://p.example/cb",))
    await store.save_client(plain)
    same(await store.get_client(ClientId("plain")), plain)


async def test_touch_client(store: Storage) -> None:
    await store.save_client(client(1, last_used_at=None))
    await store.touch_client(ClientId("client-1"), NOW + 50)
    touched = await store.get_client(ClientId("client-1"))
    assert touched is not None
    assert touched.last_used_at == NOW + 50
    await store.touch_client(ClientId("nobody"), NOW)  # no error for an unknown client


async def test_delete_unused_clients_only_dynamic_and_idle(store: Storage) -> None:
    await store.save_client(client(1, last_used_at=NOW - 100))  # dynamic, idle: goes
    await store.save_client(client(2, last_used_at=None, created_at=NOW - 100))  # never used
    await store.save_client(client(3, last_used_at=NOW + 10))  # dynamic, recently used
    await store.save_client(client(4, dynamic=False, last_used_at=NOW - 100))  # operator's
    await store.save_grant(grant(1, client_id=ClientId("client-1")))
    assert await store.delete_unused_clients(NOW, NOW + 1) == 2
    assert [c.client_id for c in await store.list_clients()] == ["client-3", "client-4"]
    revoked = await store.get_grant(GrantId("grant-1"))
    assert revoked is not None
    assert revoked.revoked_at == NOW + 1


async def test_list_grants_filters_and_last_use(store: Storage) -> None:
    await store.save_grant(grant(1, created_at=NOW, last_used_at=None))
    await store.save_grant(grant(2, created_at=NOW + 5, client_id=ClientId("client-2")))
    await store.save_grant(grant(3, created_at=NOW + 9, user_id=UserId("uid-bob")))
    await store.revoke_grant(GrantId("grant-3"), NOW + 10)
    await store.save_refresh_token(token(1, created_at=NOW + 20))
    await store.save_refresh_token(token(2, created_at=NOW + 30))

    live = await store.list_grants()
    assert [g.grant_id for g in live] == ["grant-2", "grant-1"]  # newest first, revoked left out
    assert live[1].last_used_at == NOW + 30  # the latest token issued from it
    assert live[0].last_used_at == NOW + 5  # no tokens: its own record
    every = await store.list_grants(include_revoked=True)
    assert [g.grant_id for g in every] == ["grant-3", "grant-2", "grant-1"]
    mine = await store.list_grants(user_id=UserId("uid-alice"), client_id=ClientId("client-1"))
    assert [g.grant_id for g in mine] == ["grant-1"]
    assert await store.list_grants(user_id=UserId("uid-bob")) == []


async def test_audit_trail(store: Storage) -> None:
    events = [
        AuditEvent(NOW + i, f"event-{i}", "success" if i % 2 else "failure", "u", "c", "g",
                   "127.0.0.1", f"detail {i} ✓")
        for i in range(5)
    ]  # fmt: skip
    for event in events:
        await store.append_audit(event)
    assert await store.list_audit() == events
    assert await store.list_audit(since=NOW + 3) == events[3:]
    assert await store.list_audit(limit=2) == events[3:]  # the newest, oldest first
    bare = AuditEvent(NOW + 9, "login", "failure")
    await store.append_audit(bare)
    same((await store.list_audit(since=NOW + 9))[0], bare)
    assert await store.list_audit(events={"event-1", "event-4"}) == [events[1], events[4]]
    assert await store.list_audit(events={"login"}, limit=5) == [bare]
    assert await store.list_audit(events=set()) == []


async def test_audit_events_appended_in_one_batch(store: Storage) -> None:
    batch = [AuditEvent(NOW + i, "token_refreshed", "success", client_id=f"c{i}") for i in range(3)]
    await store.append_audit_many(batch)
    await store.append_audit_many([])
    assert await store.list_audit() == batch
