"""``FileStore``: one 0600 JSON file per record in a private 0700 folder (REQ-CL-20).

Where it lives: ``OSTIARY_CLIENT_DIR`` if set, else
``platformdirs.user_data_dir("ostiary", appauthor=False) / "client"`` (on Linux
``~/.local/share/ostiary/client``, on macOS ``~/Library/Application Support/ostiary/client``,
on Windows ``%LOCALAPPDATA%\\ostiary\\client``). This path is part of the public contract: a
later version must keep reading it, or every user has to log in again.

Layout (every folder 0700, every file 0600)::

    <folder>/
      clients/<sha256(issuer)[:32]>.json      a ClientRegistration (it names its issuer)
      sessions/<sha256(resource)[:32]>.json   a Session (it names its resource)
      locks/<sha256(name)[:32]>.lock          cross-process lock files, empty, no secrets

Folder policy: a missing folder is created 0700. An existing folder owned by another user is
refused with ``StorageError`` (someone else could read or plant tokens); one of ours with a
looser mode is tightened to 0700 and a warning is logged. (Windows has no POSIX owner or mode;
there the folder is left to the user profile's ACLs.)

Writes are atomic: a temporary file is created in the same folder with ``O_CREAT | O_EXCL`` and
mode 0600 from the start, written, fsynced and renamed over the record, so a reader sees the old
record or the new one, and a token never sits in a file with a wider mode. An unreadable or
corrupt record reads as missing and is logged without its content (tokens are never logged).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from filelock import AsyncFileLock

from ostiary.client.errors import StorageError
from ostiary.client.models import ClientRegistration, Session

log = logging.getLogger(__name__)

FOLDER_ENV = "OSTIARY_CLIENT_DIR"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

R = TypeVar("R")


def default_folder() -> Path:
    """``$OSTIARY_CLIENT_DIR``, else ``<user data dir>/ostiary/client``; never changes."""
    override = os.environ.get(FOLDER_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("ostiary", appauthor=False)) / "client"


def record_name(key: str) -> str:
    """The file-name stem for ``key``: 32 hex digits of its SHA-256 (safe for any URL)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` 0700 (parents with default modes), or check an existing one: see module."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise StorageError(f"cannot create the credentials folder {path}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise StorageError(f"{path} is not a folder; move it away or set {FOLDER_ENV}")
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: no POSIX owner or mode
        return
    if info.st_uid != os.getuid():
        raise StorageError(
            f"the credentials folder {path} belongs to another user (uid {info.st_uid}); "
            f"remove it or set {FOLDER_ENV} to a folder of your own"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        log.warning("credentials folder %s was readable by others; setting its mode to 0700", path)
        try:
            path.chmod(PRIVATE_DIR)
        except OSError as exc:
            raise StorageError(f"cannot make {path} private (chmod 0700): {exc}") from exc


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` through a 0600 temporary file beside it."""
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(8)}.tmp")
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temporary, flags, PRIVATE_FILE)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); best effort, as not every platform can open a folder."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@asynccontextmanager
async def file_lock(folder: Path, name: str) -> AsyncIterator[None]:
    """Hold ``folder/<sha256(name)[:32]>.lock`` across processes; waiting never blocks the loop.

    ``AsyncFileLock`` tries the lock in a worker thread without blocking and sleeps with
    ``asyncio.sleep`` between tries, so other tasks run while another process holds it (for
    example during a minutes-long browser login). Not re-entrant.
    """
    ensure_private_dir(folder)
    path = folder / f"{record_name(name)}.lock"
    lock = AsyncFileLock(path, mode=PRIVATE_FILE, poll_interval=0.05)
    try:
        await lock.acquire()
    except OSError as exc:
        raise StorageError(f"cannot take the lock {name!r} in {folder}: {exc}") from exc
    try:
        yield
    finally:
        await lock.release()


class FileStore:
    """A ``CredentialStore`` of private JSON files; see the module docstring for the layout."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()

    def get_client(self, issuer: str) -> ClientRegistration | None:
        found = self._read("clients", issuer, ClientRegistration.from_json)
        return found if found is not None and found.issuer == issuer else None

    def put_client(self, registration: ClientRegistration) -> None:
        self._write("clients", registration.issuer, registration.to_json())

    def drop_client(self, issuer: str) -> None:
        self._drop("clients", issuer)

    def get_session(self, resource: str) -> Session | None:
        found = self._read("sessions", resource, Session.from_json)
        return found if found is not None and found.resource == resource else None

    def put_session(self, session: Session) -> None:
        self._write("sessions", session.resource, session.to_json())

    def drop_session(self, resource: str) -> None:
        self._drop("sessions", resource)

    def sessions(self) -> list[Session]:
        folder = self._folder("sessions")
        found = (self._load(path, Session.from_json) for path in folder.glob("*.json"))
        return sorted((s for s in found if s is not None), key=lambda s: s.resource)

    def lock(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        self._folder("locks")
        return file_lock(self.folder / "locks", name)

    def _folder(self, kind: str) -> Path:
        ensure_private_dir(self.folder)
        ensure_private_dir(self.folder / kind)
        return self.folder / kind

    def _path(self, kind: str, key: str) -> Path:
        return self._folder(kind) / f"{record_name(key)}.json"

    def _write(self, kind: str, key: str, data: dict[str, Any]) -> None:
        write_private(self._path(kind, key), json.dumps(data, sort_keys=True).encode())

    def _read(self, kind: str, key: str, parse: Callable[[dict[str, Any]], R]) -> R | None:
        return self._load(self._path(kind, key), parse)

    def _drop(self, kind: str, key: str) -> None:
        try:
            self._path(kind, key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {self._path(kind, key)}: {exc}") from exc

    @staticmethod
    def _load(path: Path, parse: Callable[[dict[str, Any]], R]) -> R | None:
        try:
            return parse(json.loads(path.read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # The exception type only: a message could quote the file, and so a token.
            log.warning("ignoring unreadable credentials file %s (%s)", path, type(exc).__name__)
            return None
