"""``FileStore`` specifics: where it lives, modes, atomic writes, bad files (REQ-CL-20)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from ostiary.client import file_store
from ostiary.client.errors import StorageError
from ostiary.client.file_store import FileStore, default_folder
from ostiary.client.models import ClientRegistration, ServerMetadata, Session, TokenSet

ISSUER = "https://as.example.com"
RESOURCE = "https://mcp.example.com/mcp"


def registration() -> ClientRegistration:
    return ClientRegistration(client_id="c1", issuer=ISSUER, source="dynamic", client_secret="s")


def session(resource: str = RESOURCE, access: str = "at-secret-1") -> Session:
    server = ServerMetadata(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/authorize",
        token_endpoint=f"{ISSUER}/token",
    )
    tokens = TokenSet(access_token=access, refresh_token="rt-secret-1")
    return Session(resource=resource, issuer=ISSUER, server=server, tokens=tokens)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def stem(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The modes must not depend on the umask: 0000 would make a careless 0666 file public."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


async def test_folders_are_0700_and_files_0600(tmp_path: Path, umask: int) -> None:
    store = FileStore(tmp_path / "client")
    store.put_client(registration())
    store.put_session(session())
    async with store.lock("login"):
        pass

    root = tmp_path / "client"
    for folder in (root, root / "clients", root / "sessions", root / "locks"):
        assert mode(folder) == 0o700, folder
    files = [path for path in root.rglob("*") if path.is_file()]
    assert {path.parent.name for path in files} == {"clients", "sessions", "locks"}
    for path in files:
        assert mode(path) == 0o600, path


def test_records_are_named_by_hash_and_name_their_key(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put_client(registration())
    store.put_session(session())

    client_file = tmp_path / "clients" / f"{stem(ISSUER)}.json"
    session_file = tmp_path / "sessions" / f"{stem(RESOURCE)}.json"
    assert json.loads(client_file.read_text())["issuer"] == ISSUER
    assert json.loads(session_file.read_text())["resource"] == RESOURCE


def test_a_token_file_never_exists_with_a_wider_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file is already 0600 and complete when it is renamed into place."""
    seen: list[tuple[int, bytes]] = []
    real_replace = os.replace

    def checking_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        seen.append((mode(Path(source)), Path(source).read_bytes()))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", checking_replace)
    previous = os.umask(0)
    try:
        FileStore(tmp_path).put_session(session())
    finally:
        os.umask(previous)

    assert len(seen) == 1
    assert seen[0][0] == 0o600
    assert Session.from_json(json.loads(seen[0][1])) == session()


def test_rewrites_leave_no_temporary_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for number in range(5):
        store.put_session(session(access=f"at-{number}"))
    assert [p.name for p in (tmp_path / "sessions").iterdir()] == [f"{stem(RESOURCE)}.json"]
    found = store.get_session(RESOURCE)
    assert found is not None and found.tokens is not None
    assert found.tokens.access_token == "at-4"


def test_a_failed_write_keeps_the_old_record_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)
    store.put_session(session(access="at-old"))

    def failing_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match="No space left"):
        store.put_session(session(access="at-new"))
    monkeypatch.undo()

    assert [p.name for p in (tmp_path / "sessions").iterdir()] == [f"{stem(RESOURCE)}.json"]
    found = store.get_session(RESOURCE)
    assert found is not None and found.tokens is not None
    assert found.tokens.access_token == "at-old"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            b'{"resource": "https://mcp.example.com/mcp", "tokens": {"access_token": "at-secret-9',
            id="truncated",
        ),
        pytest.param(b'["at-secret-9"]', id="not-an-object"),
        pytest.param(b'{"resource": "at-secret-9"}', id="missing-fields"),
        pytest.param(b"\xff\xfeat-secret-9", id="not-utf8"),
    ],
)
def test_a_corrupt_session_reads_as_missing_and_is_skipped(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStore(tmp_path)
    good = session("https://mcp.example.com/good")
    store.put_session(good)
    store.put_session(session())
    (tmp_path / "sessions" / f"{stem(RESOURCE)}.json").write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="ostiary.client.file_store"):
        assert store.get_session(RESOURCE) is None
        assert store.sessions() == [good]

    assert "unreadable credentials file" in caplog.text
    assert "secret" not in caplog.text  # never the content, so never a token


def test_a_corrupt_client_reads_as_missing(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put_client(registration())
    (tmp_path / "clients" / f"{stem(ISSUER)}.json").write_text("{")
    assert store.get_client(ISSUER) is None


def test_a_record_filed_under_another_key_is_not_returned(tmp_path: Path) -> None:
    """A file copied or planted under another issuer's name is not that issuer's (REQ-CL-10)."""
    store = FileStore(tmp_path)
    store.put_client(registration())
    other = "https://evil.example.com"
    source = tmp_path / "clients" / f"{stem(ISSUER)}.json"
    (tmp_path / "clients" / f"{stem(other)}.json").write_bytes(source.read_bytes())
    assert store.get_client(other) is None
    assert store.get_client(ISSUER) == registration()


def test_a_looser_existing_folder_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "client"
    (root / "sessions").mkdir(parents=True)
    root.chmod(0o755)
    (root / "sessions").chmod(0o777)

    with caplog.at_level(logging.WARNING, logger="ostiary.client.file_store"):
        FileStore(root).put_session(session())

    assert mode(root) == 0o700
    assert mode(root / "sessions") == 0o700
    assert "setting its mode to 0700" in caplog.text


def test_a_folder_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "client"
    root.mkdir(mode=0o700)
    real_uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 1)

    store = FileStore(root)
    with pytest.raises(StorageError, match="belongs to another user"):
        store.put_session(session())
    with pytest.raises(StorageError, match="belongs to another user"):
        store.get_session(RESOURCE)
    assert list(root.iterdir()) == []


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "client").write_text("")
    with pytest.raises(StorageError):
        FileStore(tmp_path / "client").put_client(registration())


def test_default_folder_is_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(file_store.FOLDER_ENV, raising=False)
    expected = Path(platformdirs.user_data_dir("ostiary", appauthor=False)) / "client"
    assert default_folder() == expected
    assert FileStore().folder == expected


def test_the_environment_overrides_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(file_store.FOLDER_ENV, str(tmp_path / "elsewhere"))
    store = FileStore()
    store.put_client(registration())
    assert store.folder == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere" / "clients" / f"{stem(ISSUER)}.json").exists()
