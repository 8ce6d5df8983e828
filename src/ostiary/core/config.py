"""What the core needs to know about this server: plain values, validated by the caller."""

from __future__ import annotations

from dataclasses import dataclass

from ostiary.core.scopes import SUPPORTED_SCOPES


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Issuer, protected resources, and lifetimes in seconds."""

    issuer: str
    resources: tuple[str, ...]
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600
    code_ttl: int = 60
    refresh_grace: int = 10
    scopes_supported: tuple[str, ...] = SUPPORTED_SCOPES
    unused_client_ttl: int = 30 * 24 * 3600  # dynamic clients unused this long go; 0: never
    registration_rate_limit: int = 20  # dynamic registrations per address per hour
    signing_alg: str = "ES256"  # of newly generated signing keys (the server's setting)

    @property
    def default_resource(self) -> str:
        return self.resources[0]
