"""A real ``keyring`` backend that keeps passwords in a dict, selected only by the fixture.

Defining a ``KeyringBackend`` subclass registers it with keyring's backend discovery, so
``priority`` raises (not viable) unless ``DictKeyring.selected`` is set: an import of this
module never makes it the process's default keyring.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.compat import properties


class DictKeyring(KeyringBackend):
    selected = False

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring leaves it untyped
        self.entries: dict[tuple[str, str], str] = {}

    @properties.classproperty
    def priority(cls) -> float:
        if not cls.selected:
            raise RuntimeError("the test keyring is only used when a test selects it")
        return 1

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(f"no {username} in {service}")


@contextmanager
def using_keyring(backend: KeyringBackend) -> Iterator[KeyringBackend]:
    """Make ``backend`` the process keyring for a while, then restore the previous one."""
    previous = keyring.get_keyring()
    DictKeyring.selected = True
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
        DictKeyring.selected = False


def fail_keyring() -> KeyringBackend:
    """keyring's own "no keyring here" backend: every call raises ``NoKeyringError``."""
    return fail.Keyring()  # type: ignore[no-untyped-call]


def null_keyring() -> KeyringBackend:
    """keyring's backend that forgets everything (priority -1)."""
    return null.Keyring()  # type: ignore[no-untyped-call]
