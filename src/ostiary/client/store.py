"""Where the client keeps registrations and sessions: the ``CredentialStore`` protocol.

Backends: ``memory_store.MemoryStore`` (tests, one process), ``file_store.FileStore`` (a 0600
JSON file per record in a 0700 folder of the user's data folder) and
``keyring_store.KeyringStore`` (the OS keyring; nothing secret on disk). ``default_store()``
picks the keyring when a real backend is available, else the file store.

``lock(name)`` is held across processes: many processes that find no valid token at once
take it in turn, and each re-reads the store after acquiring it, so one of them logs in (or
refreshes) and the others use its result.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ostiary.client.errors import StorageError
from ostiary.client.models import ClientRegistration, Session


class CredentialStore(Protocol):
    def get_client(self, issuer: str) -> ClientRegistration | None: ...

    def put_client(self, registration: ClientRegistration) -> None: ...

    def drop_client(self, issuer: str) -> None: ...

    def get_session(self, resource: str) -> Session | None: ...

    def put_session(self, session: Session) -> None: ...

    def drop_session(self, resource: str) -> None: ...

    def sessions(self) -> list[Session]: ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]: ...


STORE_ENV = "OSTIARY_CLIENT_STORE"


def default_store() -> CredentialStore:
    """``$OSTIARY_CLIENT_STORE`` (``file`` or ``keyring``) if set; else the keyring if usable.

    Forcing ``keyring`` when no real keyring backend is configured is a ``StorageError``, not a
    silent fallback to files.
    """
    from ostiary.client.file_store import FileStore
    from ostiary.client.keyring_store import KeyringStore, keyring_available

    choice = os.environ.get(STORE_ENV, "").strip().lower()
    if choice == "file":
        return FileStore()
    if choice == "keyring":
        if not keyring_available():
            raise StorageError(
                f"{STORE_ENV}=keyring, but no usable system keyring is configured "
                f"(install and unlock one, or set {STORE_ENV}=file)"
            )
        return KeyringStore()
    if choice:
        raise StorageError(f"{STORE_ENV} must be 'file' or 'keyring', not {choice!r}")
    return KeyringStore() if keyring_available() else FileStore()
