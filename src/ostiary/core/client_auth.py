"""Client authentication at the token endpoint (RFC 6749 §2.3, OAuth 2.1 §2.4, RFC 7523 §2.2)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ostiary.core.client_assertion import (
    CLIENT_ASSERTION_TYPE,
    assertion_subject,
    check_client_assertion,
)
from ostiary.core.client_cache import ClientSource
from ostiary.core.deps import Deps
from ostiary.core.errors import InvalidClient, InvalidRequest
from ostiary.core.models import AuthMethod, Client, ClientId
from ostiary.crypto.compare import constant_time_equals


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What the request carried: HTTP Basic credentials, and/or body parameters."""

    basic: tuple[str, str] | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None

    def _assertion_method(self) -> AuthMethod:
        """``private_key_jwt``: both assertion parameters, and nothing else (RFC 7521 §4.2)."""
        if self.basic is not None or self.client_secret is not None:
            raise InvalidRequest("use only one client authentication method")
        if self.client_assertion is None or self.client_assertion_type is None:
            raise InvalidRequest("client_assertion and client_assertion_type go together")
        if self.client_assertion_type != CLIENT_ASSERTION_TYPE:
            raise InvalidClient("unsupported client_assertion_type")
        return AuthMethod.PRIVATE_KEY_JWT

    def method(self) -> AuthMethod:
        """The one method used; more than one is an error (OAuth 2.1 §2.4)."""
        if self.client_assertion is not None or self.client_assertion_type is not None:
            return self._assertion_method()
        if self.basic is not None:
            if self.client_secret is not None:
                raise InvalidRequest("use only one client authentication method")
            return AuthMethod.CLIENT_SECRET_BASIC
        if self.client_secret is not None:
            return AuthMethod.CLIENT_SECRET_POST
        return AuthMethod.NONE

    def claimed_id(self) -> str:
        if self.client_assertion is not None and not self.client_id:
            return assertion_subject(self.client_assertion)  # RFC 7523 §3: client_id optional
        if self.basic is not None:
            if self.client_id is not None and self.client_id != self.basic[0]:
                raise InvalidRequest("client_id does not match the Authorization header")
            return self.basic[0]
        if not self.client_id:
            raise InvalidClient("client authentication is required")
        return self.client_id

    def secret(self) -> str | None:
        return self.basic[1] if self.basic is not None else self.client_secret


def assertion_audiences(deps: Deps) -> tuple[str, ...]:
    """What a client assertion's ``aud`` may name: the token endpoint URL or the issuer."""
    return (deps.config.issuer.rstrip("/") + "/token", deps.config.issuer)


async def authenticate_client(
    credentials: ClientCredentials,
    deps: Deps,
    *,
    source: ClientSource | None = None,
    audiences: Collection[str] | None = None,
) -> Client:
    """The registered client, if the request proves it is that client by its own method.

    ``source`` is where the client is read (default ``deps.client_lookup``, which may be a
    short-lived cache); grants that need the store's current word pass ``deps.storage``.
    ``audiences`` are what a ``private_key_jwt`` assertion may be addressed to (default
    ``assertion_audiences``). A client registered for one method can use no other: a secret
    never authenticates a ``private_key_jwt`` client, nor an assertion a secret client.
    """
    method = credentials.method()
    lookup = deps.clients(source) if source is not None else deps.client_lookup
    client = await lookup.get_client(ClientId(credentials.claimed_id()))
    if client is None:
        raise InvalidClient("client authentication failed")
    if client.token_endpoint_auth_method is not method:
        raise InvalidClient("client authentication failed")
    if method is AuthMethod.NONE:
        return client
    if method is AuthMethod.PRIVATE_KEY_JWT:
        assert credentials.client_assertion is not None
        await check_client_assertion(
            credentials.client_assertion,
            client,
            verifier=deps.assertion_verifier,
            replay=deps.assertion_replay,
            audiences=assertion_audiences(deps) if audiences is None else audiences,
            now=deps.clock.now(),
        )
        return client
    secret = credentials.secret()
    if client.secret_hash is None or secret is None:
        raise InvalidClient("client authentication failed")
    if not constant_time_equals(deps.hasher.hash(secret), client.secret_hash):
        raise InvalidClient("client authentication failed")
    return client
