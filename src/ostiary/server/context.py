"""Explicit wiring: settings and storage in, a ready ``ServerContext`` out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ostiary.core.client_cache import ClientCache
from ostiary.core.clock import Clock, SystemClock
from ostiary.core.config import ServerConfig
from ostiary.core.deps import Deps
from ostiary.crypto.sealing import TokenSealer
from ostiary.crypto.server_secret import ServerKeys
from ostiary.crypto.tokens import TokenHasher, new_token
from ostiary.server.access_tokens import KeyRingTokenReader
from ostiary.server.audit import AuditLog
from ostiary.server.client_documents import MetadataDocumentClients
from ostiary.server.client_keys import JwksFetcher, KeyedAssertionVerifier
from ostiary.server.keyring import KeyPolicy, KeyRing
from ostiary.server.safe_fetch import SafeFetcher
from ostiary.storage.protocols import Storage


@dataclass(frozen=True, slots=True)
class ServerContext:
    """Everything a request handler may use."""

    deps: Deps
    keyring: KeyRing
    keys: ServerKeys
    audit: AuditLog
    templates_dir: Path | None = None
    secure_cookies: bool = False
    issuer_path: str = field(default="")


async def build_context(
    config: ServerConfig,
    storage: Storage,
    keys: ServerKeys,
    *,
    clock: Clock | None = None,
    templates_dir: Path | None = None,
    key_policy: KeyPolicy | None = None,
    allow_http_loopback_jwks: bool = False,
    allow_loopback_metadata: bool = False,
    fetcher: SafeFetcher | None = None,
) -> ServerContext:
    """Load the key ring and assemble the core's dependencies.

    ``allow_loopback_metadata`` (or its older name ``allow_http_loopback_jwks``) lets client
    metadata documents and ``jwks_uri`` be fetched from loopback hosts, over plain http too;
    it is for tests only and off by default. ``fetcher`` replaces the fetcher both use.
    """
    clock = clock or SystemClock()
    fetcher = fetcher or SafeFetcher(
        allow_loopback=allow_loopback_metadata or allow_http_loopback_jwks
    )
    policy = key_policy or KeyPolicy(access_token_ttl=config.access_token_ttl)
    keyring = KeyRing(storage, keys.key_encryption, clock, policy)
    await keyring.load()
    audit = AuditLog(storage, clock)
    deps = Deps(
        config=config,
        storage=storage,
        clock=clock,
        hasher=TokenHasher(keys.token_hashing),
        signer=keyring,
        sealer=TokenSealer(),
        new_token=new_token,
        new_id=lambda: secrets.token_urlsafe(16),
        token_clients=ClientCache(storage, clock),
        events=audit,
        access_tokens=KeyRingTokenReader(keyring, config, clock),
        assertion_verifier=KeyedAssertionVerifier(JwksFetcher(clock, fetcher)),
        client_documents=MetadataDocumentClients(fetcher, clock, config.scopes_supported),
    )
    issuer = urlsplit(config.issuer)
    return ServerContext(
        deps=deps,
        keyring=keyring,
        keys=keys,
        audit=audit,
        templates_dir=templates_dir,
        secure_cookies=issuer.scheme == "https",
        issuer_path=issuer.path.rstrip("/"),
    )
