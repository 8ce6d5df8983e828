"""The server secret: one random file from which every server-side key is derived.

It is kept outside the database (mode 0600) so that a database dump alone holds nothing usable.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ostiary.crypto.sealing import derive_key

_SIZE = 32


class SecretFileError(Exception):
    """The secret file is unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """Keys derived from the server secret, one per purpose."""

    token_hashing: bytes
    key_encryption: bytes
    cookie_signing: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> ServerKeys:
        return cls(
            token_hashing=derive_key(secret, "ostiary token hashing"),
            key_encryption=derive_key(secret, "ostiary key encryption"),
            cookie_signing=derive_key(secret, "ostiary cookie signing"),
        )


def load_or_create_secret(path: Path) -> bytes:
    """Read the hex secret at ``path``, creating it (0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(_SIZE) + "\n")
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise SecretFileError(f"cannot read server secret {path}: {exc}") from exc
    if len(secret) < _SIZE:
        raise SecretFileError(f"server secret {path} is shorter than {_SIZE} bytes")
    return secret
