"""Who is calling: the verified token of the current request, for code inside a tool.

The middleware puts the ``VerifiedToken`` in the ASGI scope (``scope["state"][TOKEN_KEY]``,
so ``request.state`` in Starlette-based servers) and in a context variable for the duration
of the wrapped app's call. Servers that run handlers in tasks started elsewhere (the official
SDK's streamable-HTTP session tasks) should read the scope through the request they are given.
"""

from __future__ import annotations

import contextvars

from ostiary.resource.tokens import VerifiedToken

TOKEN_KEY = "ostiary.token"
_current: contextvars.ContextVar[VerifiedToken | None] = contextvars.ContextVar(
    "ostiary_token", default=None
)


def current_token() -> VerifiedToken | None:
    """The caller's token, or ``None`` outside a protected request."""
    return _current.get()


def require_token() -> VerifiedToken:
    """The caller's token; ``LookupError`` outside a protected request."""
    token = _current.get()
    if token is None:
        raise LookupError("no verified token: not inside a protected request")
    return token


def bind(token: VerifiedToken) -> contextvars.Token[VerifiedToken | None]:
    return _current.set(token)


def unbind(handle: contextvars.Token[VerifiedToken | None]) -> None:
    _current.reset(handle)
