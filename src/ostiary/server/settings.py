"""Settings of the authorization server: one frozen model, from options or ``OSTIARY_*``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ostiary.core.config import ServerConfig
from ostiary.core.errors import InvalidTarget
from ostiary.core.redirect_uris import is_loopback_host
from ostiary.core.resources import normalize_resource
from ostiary.core.scopes import SUPPORTED_SCOPES, format_scope
from ostiary.crypto.keys import signing_algorithm
from ostiary.server.keyring import KeyPolicy


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("ostiary", appauthor=False))


class AuthServerSettings(BaseSettings):
    """Validated at startup; every field has an ``OSTIARY_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="OSTIARY_", frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    database: str | None = None
    secret_file: Path | None = None
    access_token_ttl: int = Field(default=3600, ge=30, le=86400)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=60)
    code_ttl: int = Field(default=60, ge=5, le=600)
    refresh_grace: int = Field(default=10, ge=0, le=120)
    resource: tuple[str, ...] = ()
    templates: Path | None = None
    log_level: str = "info"
    # Dynamic Client Registration (RFC 7591): dynamic clients unused this many seconds are
    # removed (0: never), and each address may register this many clients an hour.
    unused_client_ttl: int = Field(default=30 * 24 * 3600, ge=0)
    registration_rate_limit: int = Field(default=20, ge=1, le=100_000)
    signing_alg: str = "ES256"
    key_reload_interval: int = Field(default=30, ge=1, le=3600)
    key_publication_leeway: int = Field(default=60, ge=0, le=3600)
    # TESTS ONLY: fetch client metadata documents and jwks_uri from loopback hosts, over
    # plain http too (SSRF protection for loopback off); the server warns loudly at startup.
    allow_loopback_metadata: bool = False

    @field_validator("signing_alg")
    @classmethod
    def _check_signing_alg(cls, value: str) -> str:
        """ES256, RS256 or Ed25519 (``EdDSA`` names Ed25519, RFC 9864); never none or HS*."""
        return signing_algorithm(value)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        """RFC 8414 §2: https, no query or fragment; plain http only on loopback."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("public URL must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("public URL must have no query or fragment")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("public URL must use https unless the host is loopback")
        return value

    @model_validator(mode="after")
    def _check_resources(self) -> AuthServerSettings:
        try:
            for uri in self.resource:
                normalize_resource(uri)
        except InvalidTarget as exc:
            raise ValueError(f"--resource: {exc.description}") from None
        return self

    @property
    def issuer(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def issuer_metadata_url(self) -> str:
        """RFC 8414 §3.1: the well-known string goes between host and path."""
        parts = urlsplit(self.issuer)
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'ostiary.sqlite3'}"

    @property
    def secret_path(self) -> Path:
        return self.secret_file or self.data_dir / "ostiary.secret"

    @property
    def resources(self) -> tuple[str, ...]:
        default = normalize_resource(self.issuer.rstrip("/") + "/mcp")
        extra = [normalize_resource(r) for r in self.resource]
        return tuple(dict.fromkeys([default, *extra]))

    def key_policy(self) -> KeyPolicy:
        return KeyPolicy(
            access_token_ttl=self.access_token_ttl,
            reload_interval=self.key_reload_interval,
            leeway=self.key_publication_leeway,
            alg=self.signing_alg,
        )

    def server_config(self, policy_scopes: Iterable[str] = ()) -> ServerConfig:
        """The core's configuration; ``policy_scopes`` (the ``/mcp`` policy's) are offered too."""
        return ServerConfig(
            issuer=self.issuer,
            scopes_supported=tuple(format_scope({*SUPPORTED_SCOPES, *policy_scopes}).split()),
            resources=self.resources,
            access_token_ttl=self.access_token_ttl,
            refresh_token_ttl=self.refresh_token_ttl,
            code_ttl=self.code_ttl,
            refresh_grace=self.refresh_grace,
            unused_client_ttl=self.unused_client_ttl,
            registration_rate_limit=self.registration_rate_limit,
            signing_alg=self.signing_alg,
        )
