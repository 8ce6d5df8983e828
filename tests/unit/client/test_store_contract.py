"""One contract for every ``CredentialStore``: memory, files, and the keyring (REQ-CL-10, -19)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path

import pytest

from ostiary.client.errors import StorageError
from ostiary.client.file_store import FOLDER_ENV, FileStore
from ostiary.client.keyring_store import KeyringStore, keyring_available
from ostiary.client.memory_store import MemoryStore
from ostiary.client.models import (
    ClientRegistration,
    ResourceMetadata,
    ServerMetadata,
    Session,
    TokenSet,
)
from ostiary.client.store import STORE_ENV, CredentialStore, default_store
from tests.support.keyring_backend import DictKeyring, fail_keyring, null_keyring, using_keyring

ISSUER = "https://as.example.com/tenant"
OTHER_ISSUER = "https://as.example.com/other"
RESOURCE = "https://mcp.example.com/mcp"
OTHER_RESOURCE = "https://mcp.example.com/other"


@pytest.fixture(params=["memory", "file", "keyring"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CredentialStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "file":
        yield FileStore(tmp_path / "client")
    else:
        with using_keyring(DictKeyring()):
            yield KeyringStore(service="ostiary-test", lock_folder=tmp_path / "locks")


def full_registration(issuer: str = ISSUER) -> ClientRegistration:
    """Every field set to something other than its default."""
    return ClientRegistration(
        client_id="client-123",
        issuer=issuer,
        source="dynamic",
        token_endpoint_auth_method="private_key_jwt",
        client_secret="s3cret",
        redirect_uris=("http://127.0.0.1:8765/cb", "http://localhost:8765/cb"),
        registered_at=1_700_000_000,
        private_key_pem="-----BEGIN PRIVATE KEY-----\nMC4C\n-----END PRIVATE KEY-----\n",
        signing_alg="ES256",
    )


def full_session(resource: str = RESOURCE, issuer: str = ISSUER) -> Session:
    """Every field, nested ones included, set to something other than its default."""
    server = ServerMetadata(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/authorize",
        token_endpoint=f"{issuer}/token",
        registration_endpoint=f"{issuer}/register",
        revocation_endpoint=f"{issuer}/revoke",
        scopes_supported=("mcp:read", "offline_access"),
        code_challenge_methods_supported=("S256",),
        token_endpoint_auth_methods_supported=("none", "private_key_jwt"),
        grant_types_supported=("authorization_code", "refresh_token"),
        client_id_metadata_document_supported=True,
        authorization_response_iss_parameter_supported=True,
        legacy=True,
    )
    return Session(
        resource=resource,
        issuer=issuer,
        server=server,
        protected=ResourceMetadata(
            resource=resource,
            authorization_servers=(issuer,),
            scopes_supported=("mcp:read",),
            resource_name="Example MCP",
        ),
        tokens=TokenSet(
            access_token="at-abc",
            token_type="DPoP",
            expires_at=1_700_003_600.5,
            refresh_token="rt-def",
            scope="mcp:read offline_access",
            obtained_at=1_700_000_000.25,
        ),
        requested_scope="mcp:read",
        subject="alice",
    )


def minimal_session(resource: str = OTHER_RESOURCE) -> Session:
    server = ServerMetadata(
        issuer=OTHER_ISSUER,
        authorization_endpoint=f"{OTHER_ISSUER}/authorize",
        token_endpoint=f"{OTHER_ISSUER}/token",
    )
    return Session(resource=resource, issuer=OTHER_ISSUER, server=server)


def unset_fields(record: object) -> list[str]:
    """Fields of ``record`` (and of its nested records) still at their default value."""
    unset = []
    for each in fields(record):  # type: ignore[arg-type]
        value = getattr(record, each.name)
        if is_dataclass(value):
            unset += [f"{each.name}.{name}" for name in unset_fields(value)]
        elif value == each.default or (
            each.default_factory is not MISSING and value == each.default_factory()
        ):
            unset.append(each.name)
    return unset


def test_the_round_trip_samples_set_every_field() -> None:
    """A field added to the models later must be added to the samples, or this fails."""
    assert unset_fields(full_registration()) == []
    assert unset_fields(full_session()) == []


def test_client_round_trip_keeps_every_field(store: CredentialStore) -> None:
    registration = full_registration()
    store.put_client(registration)
    assert store.get_client(ISSUER) == registration


def test_session_round_trip_keeps_every_field(store: CredentialStore) -> None:
    session = full_session()
    store.put_session(session)
    assert store.get_session(RESOURCE) == session


def test_minimal_session_round_trip_keeps_the_nones(store: CredentialStore) -> None:
    session = minimal_session()
    store.put_session(session)
    assert store.get_session(OTHER_RESOURCE) == session


def test_missing_records_are_none(store: CredentialStore) -> None:
    assert store.get_client(ISSUER) is None
    assert store.get_session(RESOURCE) is None
    assert store.sessions() == []


def test_put_overwrites(store: CredentialStore) -> None:
    store.put_client(full_registration())
    newer = ClientRegistration(client_id="client-456", issuer=ISSUER, source="pre-registered")
    store.put_client(newer)
    assert store.get_client(ISSUER) == newer

    store.put_session(full_session())
    refreshed = Session(
        resource=RESOURCE,
        issuer=ISSUER,
        server=full_session().server,
        tokens=TokenSet(access_token="at-new", refresh_token="rt-new"),
    )
    store.put_session(refreshed)
    assert store.get_session(RESOURCE) == refreshed
    assert store.sessions() == [refreshed]


def test_drop_removes_and_is_idempotent(store: CredentialStore) -> None:
    store.put_client(full_registration())
    store.put_session(full_session())

    store.drop_client(ISSUER)
    store.drop_client(ISSUER)
    store.drop_session(RESOURCE)
    store.drop_session(RESOURCE)
    store.drop_session("https://never.example.com/mcp")

    assert store.get_client(ISSUER) is None
    assert store.get_session(RESOURCE) is None
    assert store.sessions() == []


def test_sessions_lists_all_sessions_and_nothing_else(store: CredentialStore) -> None:
    store.put_client(full_registration())
    store.put_client(full_registration(OTHER_ISSUER))
    first, second = full_session(), minimal_session()
    store.put_session(second)
    store.put_session(first)
    store.put_session(first)

    assert sorted(store.sessions(), key=lambda s: s.resource) == [first, second]

    store.drop_session(OTHER_RESOURCE)
    assert store.sessions() == [first]


def test_client_of_one_issuer_is_never_returned_for_another(store: CredentialStore) -> None:
    """REQ-CL-10: credentials are keyed by the issuer and exact: no prefix or slash folding."""
    store.put_client(full_registration(ISSUER))
    for other in (OTHER_ISSUER, ISSUER + "/", "https://as.example.com", ISSUER.upper()):
        assert store.get_client(other) is None
    theirs = ClientRegistration(client_id="other-client", issuer=OTHER_ISSUER, source="dynamic")
    store.put_client(theirs)
    assert store.get_client(ISSUER) == full_registration(ISSUER)
    assert store.get_client(OTHER_ISSUER) == theirs


def test_sessions_are_keyed_by_exact_resource(store: CredentialStore) -> None:
    """REQ-CL-19: a token cached for one resource is never returned for another."""
    store.put_session(full_session())
    for other in (OTHER_RESOURCE, RESOURCE + "/", "https://mcp.example.com"):
        assert store.get_session(other) is None


async def test_lock_lets_one_task_in_at_a_time(store: CredentialStore) -> None:
    events: list[str] = []
    first_in, second_trying = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with store.lock("login:" + RESOURCE):
            events.append("first in")
            first_in.set()
            await second_trying.wait()
            await asyncio.sleep(0.2)  # give the second task time to (fail to) get in
            events.append("first out")

    async def second() -> None:
        await first_in.wait()
        second_trying.set()
        async with store.lock("login:" + RESOURCE):
            events.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=30)
    assert events == ["first in", "first out", "second in"]


async def test_locks_of_different_names_are_independent(store: CredentialStore) -> None:
    async with store.lock("login:" + RESOURCE), store.lock("login:" + OTHER_RESOURCE):
        pass


# Backend specifics: the keyring store, and which store default_store() picks.


@pytest.fixture
def dict_keyring() -> Iterator[DictKeyring]:
    backend = DictKeyring()
    with using_keyring(backend):
        yield backend


@pytest.fixture
def no_keyring() -> Iterator[None]:
    with using_keyring(fail_keyring()):
        yield


def test_keyring_available_only_with_a_real_backend(dict_keyring: DictKeyring) -> None:
    assert keyring_available()
    with using_keyring(fail_keyring()):
        assert not keyring_available()
    with using_keyring(null_keyring()):
        assert not keyring_available()


async def test_keyring_store_writes_nothing_but_lock_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dict_keyring: DictKeyring
) -> None:
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path / "data"))
    for store in (KeyringStore(lock_folder=tmp_path / "locks"), KeyringStore()):
        store.put_client(full_registration())
        store.put_session(full_session())
        store.put_session(minimal_session())
        store.drop_session(OTHER_RESOURCE)
        assert store.sessions() == [full_session()]
        async with store.lock("login:" + RESOURCE):
            pass

    files = files_under(tmp_path)
    assert {path.suffix for path in files} <= {".lock"}
    assert {path.parent for path in files} <= {tmp_path / "locks", tmp_path / "data" / "locks"}
    assert all(path.stat().st_size == 0 for path in files)


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_keyring_entries_and_index(dict_keyring: DictKeyring) -> None:
    store = KeyringStore(service="svc", lock_folder=None)
    store.put_client(full_registration())
    store.put_session(full_session())
    store.put_session(minimal_session())
    store.drop_session(OTHER_RESOURCE)

    assert set(dict_keyring.entries) == {
        ("svc", f"client:{ISSUER}"),
        ("svc", f"session:{RESOURCE}"),
        ("svc", "index"),
    }
    index = json.loads(dict_keyring.entries["svc", "index"])
    assert index == [f"client:{ISSUER}", f"session:{RESOURCE}"]
    assert json.loads(dict_keyring.entries["svc", f"session:{RESOURCE}"])["resource"] == RESOURCE


def test_a_corrupt_keyring_entry_reads_as_missing(
    dict_keyring: DictKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyringStore(service="svc")
    store.put_session(full_session())
    store.put_session(minimal_session())
    dict_keyring.entries["svc", f"session:{RESOURCE}"] = '{"tokens": "at-secret-9"'

    assert store.get_session(RESOURCE) is None
    assert store.sessions() == [minimal_session()]
    assert "unreadable keyring entry" in caplog.text
    assert "secret" not in caplog.text


def test_keyring_failures_are_storage_errors(no_keyring: None, tmp_path: Path) -> None:
    store = KeyringStore(lock_folder=tmp_path)
    with pytest.raises(StorageError, match="system keyring could not read"):
        store.get_session(RESOURCE)
    with pytest.raises(StorageError, match="system keyring could not store"):
        store.put_client(full_registration())
    with pytest.raises(StorageError, match="OSTIARY_CLIENT_STORE=file"):
        store.sessions()


@pytest.mark.parametrize(
    ("setting", "keyring_usable", "expected"),
    [
        pytest.param(None, True, KeyringStore, id="keyring-when-usable"),
        pytest.param(None, False, FileStore, id="files-without-keyring"),
        pytest.param("file", True, FileStore, id="files-forced"),
        pytest.param("keyring", True, KeyringStore, id="keyring-forced"),
        pytest.param("Keyring ", True, KeyringStore, id="setting-case-and-space-insensitive"),
    ],
)
def test_default_store_choice(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    setting: str | None,
    keyring_usable: bool,
    expected: type[object],
) -> None:
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path))
    if setting is None:
        monkeypatch.delenv(STORE_ENV, raising=False)
    else:
        monkeypatch.setenv(STORE_ENV, setting)
    with using_keyring(DictKeyring() if keyring_usable else fail_keyring()):
        assert type(default_store()) is expected


@pytest.mark.parametrize("setting", ["keyring", "sqlite"])
def test_default_store_refuses_what_it_cannot_do(
    monkeypatch: pytest.MonkeyPatch, no_keyring: None, setting: str
) -> None:
    monkeypatch.setenv(STORE_ENV, setting)
    with pytest.raises(StorageError, match=STORE_ENV):
        default_store()
