"""A stand-in for the OS keyring in subprocesses: its entries in one JSON file of their own.

Selected only through the environment, as a user would pick a keyring backend::

    PYTHON_KEYRING_BACKEND=tests.support.file_keyring.JsonFileKeyring
    OSTIARY_TEST_KEYRING=/some/other/folder/keyring.json

Defining a ``KeyringBackend`` subclass registers it with keyring's backend discovery, so its
``priority`` raises (not viable) unless ``OSTIARY_TEST_KEYRING`` is set: importing this module
never makes it anyone's default keyring. Writes are serialized with a file lock, since several
``ostiary`` processes may use it at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.errors
from filelock import FileLock
from keyring.backend import KeyringBackend
from keyring.compat import properties

PATH_ENV = "OSTIARY_TEST_KEYRING"


def _path() -> Path:
    where = os.environ.get(PATH_ENV)
    if not where:
        raise RuntimeError(f"the test keyring is only used when {PATH_ENV} is set")
    return Path(where)


class JsonFileKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        _path()
        return 1

    def _entries(self) -> dict[str, str]:
        try:
            loaded: dict[str, str] = json.loads(_path().read_text())
        except FileNotFoundError:
            return {}
        return loaded

    def _save(self, entries: dict[str, str]) -> None:
        _path().write_text(json.dumps(entries))

    @staticmethod
    def _key(service: str, username: str) -> str:
        return f"{service}\n{username}"

    def _lock(self) -> FileLock:
        return FileLock(str(_path()) + ".lock")

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock():
            return self._entries().get(self._key(service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock():
            entries = self._entries()
            entries[self._key(service, username)] = password
            self._save(entries)

    def delete_password(self, service: str, username: str) -> None:
        with self._lock():
            entries = self._entries()
            if entries.pop(self._key(service, username), None) is None:
                raise keyring.errors.PasswordDeleteError(f"no {username} in {service}")
            self._save(entries)
