"""``KeyringStore``: every record in the OS keyring, nothing secret on disk (REQ-CL-20).

Entries of the keyring service (``"ostiary"`` by default), one password each:

* ``client:<issuer>`` — a ``ClientRegistration`` as JSON;
* ``session:<resource>`` — a ``Session`` as JSON;
* ``index`` — the JSON list of the record names above, because a keyring cannot list its
  entries and ``sessions()`` must. It is rewritten under a cross-process file lock.

The only files written are empty lock files (``lock(name)`` and the index lock) in
``lock_folder``, by default the ``FileStore`` folder's ``locks/``. Any keyring failure (locked,
absent, refused) becomes a ``StorageError``; a record that does not parse reads as missing and
is logged without its content.

``keyring_available()`` says whether the configured keyring really keeps secrets: not the
``fail`` backend, not an empty chain, and nothing from ``keyrings.alt`` (whose file backends
keep secrets in a plain or password-prompting file; the ``FileStore`` is the better fallback).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import keyring
import keyring.errors
from filelock import FileLock, Timeout
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail

from ostiary.client.errors import StorageError
from ostiary.client.file_store import (
    FOLDER_ENV,
    PRIVATE_FILE,
    default_folder,
    ensure_private_dir,
    file_lock,
    record_name,
)
from ostiary.client.models import ClientRegistration, Session

log = logging.getLogger(__name__)

INDEX = "index"
INDEX_LOCK_SECONDS = 30.0

R = TypeVar("R")


def keyring_available() -> bool:
    """True when ``keyring.get_keyring()`` is a real secret store with priority above zero."""
    try:
        return _trusted(keyring.get_keyring())
    except Exception:  # a broken keyring configuration means: no keyring
        return False


def _trusted(backend: KeyringBackend) -> bool:
    if isinstance(backend, fail.Keyring) or type(backend).__module__.startswith("keyrings.alt"):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        chained: list[KeyringBackend] = list(backend.backends)
        if not chained or not all(_trusted(each) for each in chained):
            return False
    return float(backend.priority) > 0


class KeyringStore:
    """A ``CredentialStore`` in the OS keyring; see the module docstring for the entries."""

    def __init__(self, service: str = "ostiary", lock_folder: Path | None = None) -> None:
        self.service = service
        self.lock_folder = lock_folder

    def get_client(self, issuer: str) -> ClientRegistration | None:
        found = self._get(f"client:{issuer}", ClientRegistration.from_json)
        return found if found is not None and found.issuer == issuer else None

    def put_client(self, registration: ClientRegistration) -> None:
        self._put(f"client:{registration.issuer}", registration.to_json())

    def drop_client(self, issuer: str) -> None:
        self._drop(f"client:{issuer}")

    def get_session(self, resource: str) -> Session | None:
        found = self._get(f"session:{resource}", Session.from_json)
        return found if found is not None and found.resource == resource else None

    def put_session(self, session: Session) -> None:
        self._put(f"session:{session.resource}", session.to_json())

    def drop_session(self, resource: str) -> None:
        self._drop(f"session:{resource}")

    def sessions(self) -> list[Session]:
        names = [name for name in self._index() if name.startswith("session:")]
        found = (self._get(name, Session.from_json) for name in names)
        return sorted((s for s in found if s is not None), key=lambda s: s.resource)

    def lock(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        return file_lock(self._locks(), name)

    def _locks(self) -> Path:
        if self.lock_folder is not None:
            ensure_private_dir(self.lock_folder)
            return self.lock_folder
        root = default_folder()
        ensure_private_dir(root)
        ensure_private_dir(root / "locks")
        return root / "locks"

    def _get(self, name: str, parse: Callable[[dict[str, Any]], R]) -> R | None:
        text = self._call("read", lambda: keyring.get_password(self.service, name))
        if text is None:
            return None
        try:
            return parse(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # The exception type only: a message could quote the entry, and so a token.
            log.warning(
                "ignoring unreadable keyring entry %s/%s (%s)",
                self.service,
                name,
                type(exc).__name__,
            )
            return None

    def _put(self, name: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, sort_keys=True)
        self._call("store", lambda: keyring.set_password(self.service, name, text))
        with self._index_lock():
            names = self._index()
            if name not in names:
                self._write_index([*names, name])

    def _drop(self, name: str) -> None:
        self._call("delete", lambda: _delete(self.service, name))
        with self._index_lock():
            names = self._index()
            if name in names:
                self._write_index([each for each in names if each != name])

    def _index(self) -> list[str]:
        text = self._call("read", lambda: keyring.get_password(self.service, INDEX))
        if text is None:
            return []
        try:
            names = json.loads(text)
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            log.warning("ignoring the unreadable keyring index %s/%s", self.service, INDEX)
            return []
        return names

    def _write_index(self, names: list[str]) -> None:
        text = json.dumps(sorted(names))
        self._call("store", lambda: keyring.set_password(self.service, INDEX, text))

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        """Held for one read-modify-write of the index (milliseconds), so a blocking wait."""
        path = self._locks() / f"{record_name(f'keyring-index:{self.service}')}.lock"
        try:
            with FileLock(path, mode=PRIVATE_FILE, timeout=INDEX_LOCK_SECONDS):
                yield
        except Timeout as exc:
            message = f"another process holds {path}; is an ostiary process stuck?"
            raise StorageError(message) from exc
        except OSError as exc:
            raise StorageError(f"cannot take the lock {path}: {exc}") from exc

    def _call(self, what: str, operation: Callable[[], R]) -> R:
        try:
            return operation()
        except Exception as exc:  # every backend has its own errors (D-Bus, Security framework)
            raise StorageError(
                f"the system keyring could not {what} the {self.service!r} credentials "
                f"({type(exc).__name__}: {exc}); unlock it, or set OSTIARY_CLIENT_STORE=file "
                f"to keep them in files ({FOLDER_ENV} chooses the folder)"
            ) from exc


def _delete(service: str, name: str) -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        keyring.delete_password(service, name)
