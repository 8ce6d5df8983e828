"""Explicit wiring: everything the core calls out to, passed in, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ostiary.core.access_tokens import AccessTokenReader, NoAccessTokens
from ostiary.core.client_assertion import (
    ClientAssertionVerifier,
    MemoryReplayGuard,
    RejectAssertions,
    ReplayGuard,
)
from ostiary.core.client_cache import ClientSource
from ostiary.core.client_documents import ClientDocumentSource, ClientLookup, NoClientDocuments
from ostiary.core.clock import Clock
from ostiary.core.config import ServerConfig
from ostiary.core.events import EventSink, NoEvents

if TYPE_CHECKING:
    from ostiary.storage.protocols import Storage


class Hasher(Protocol):
    """Keyed hash of a secret (the only form a store keeps)."""

    def hash(self, value: str) -> str: ...


class Signer(Protocol):
    """Signs access-token claims into a JWT."""

    def sign(self, claims: dict[str, Any]) -> str: ...


class Sealer(Protocol):
    """Encrypts data under a key derived from a bearer secret."""

    def seal(self, secret: str, plaintext: bytes) -> bytes: ...

    def unseal(self, secret: str, sealed: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Deps:
    """The core's collaborators."""

    config: ServerConfig
    storage: Storage
    clock: Clock
    hasher: Hasher
    signer: Signer
    sealer: Sealer
    new_token: Callable[[], str]
    new_id: Callable[[], str]
    token_clients: ClientSource | None = None  # the token endpoint's lookup; default storage
    events: EventSink = field(default_factory=NoEvents)  # security events, for the audit trail
    access_tokens: AccessTokenReader = field(default_factory=NoAccessTokens)  # our own JWTs
    # private_key_jwt: signature checks (the server wires JOSE in) and jti single use
    assertion_verifier: ClientAssertionVerifier = field(default_factory=RejectAssertions)
    assertion_replay: ReplayGuard = field(default_factory=MemoryReplayGuard)
    # Client ID Metadata Documents: URL client ids are read here (the server fetches them)
    client_documents: ClientDocumentSource = field(default_factory=NoClientDocuments)

    @property
    def client_lookup(self) -> ClientSource:
        """The token endpoint's clients: URL ids from their documents, others from the
        short-lived cache (or the store)."""
        return self.clients(self.token_clients or self.storage)

    def clients(self, source: ClientSource) -> ClientSource:
        """``source`` for ids this server issued, ``client_documents`` for URL ids."""
        return ClientLookup(source, self.client_documents)
