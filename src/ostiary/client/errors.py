"""What can go wrong on the client side, one class per step; each message says what to change.

::

    ClientError
    ├── DiscoveryError        protected-resource or authorization-server metadata missing/invalid
    ├── RegistrationError     no way to get a client_id, or the server refused the registration
    ├── AuthorizationError    the person declined, or the callback failed a check (state, iss)
    ├── TokenError            the token endpoint refused (``error`` holds the OAuth code)
    ├── StepUpLimit           403 insufficient_scope again after the allowed re-authorizations
    └── StorageError          stored credentials unreadable or unwritable
"""

from __future__ import annotations


class ClientError(Exception):
    """Base class; ``str(exc)`` is meant for people."""


class DiscoveryError(ClientError):
    pass


class RegistrationError(ClientError):
    pass


class AuthorizationError(ClientError):
    pass


class TokenError(ClientError):
    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class StepUpLimit(ClientError):
    pass


class StorageError(ClientError):
    pass
