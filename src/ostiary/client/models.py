"""What the client learns and keeps: metadata, its registration, tokens, and one record per server.

Frozen dataclasses with ``to_json``/``from_json`` for storage. Times are absolute Unix seconds
(``expires_at``), never the relative ``expires_in`` a token response carries, so a stored token
means the same after a restart.

Secrets (client secrets, private keys, tokens) are left out of every ``repr``, so a log line
or a traceback never shows one.

Records are keyed the way REQ-CL-10 and REQ-CL-19 demand:

* a ``ClientRegistration`` belongs to one authorization server (its ``issuer``) and is never
  shown to another;
* a ``Session`` belongs to one MCP server (its canonical ``resource`` URL) and remembers the
  issuer and metadata its tokens came from, so a token is only ever sent where it belongs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

RegistrationSource = Literal["pre-registered", "metadata-document", "dynamic"]

T = TypeVar("T")


def _known(cls: type[T], data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has: a newer version's extra keys are ignored, not fatal."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return {k: v for k, v in data.items() if k in names}


def _tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme and auth-params (names lower-cased)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")

    @property
    def resource_metadata(self) -> str | None:
        return self.params.get("resource_metadata")


@dataclass(frozen=True, slots=True)
class ResourceMetadata:
    """RFC 9728 protected-resource metadata, after validation."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None = None
    resource_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceMetadata:
        data = _known(cls, data)
        data["authorization_servers"] = _tuple(data.get("authorization_servers")) or ()
        data["scopes_supported"] = _tuple(data.get("scopes_supported"))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class ServerMetadata:
    """RFC 8414 / OpenID authorization-server metadata, after validation (only what is used).

    ``legacy`` marks endpoints guessed by the 2025-03-26 fallback (``/authorize`` etc. on the
    MCP server's origin) rather than read from a document.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    code_challenge_methods_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] | None = None
    grant_types_supported: tuple[str, ...] | None = None
    client_id_metadata_document_supported: bool = False
    authorization_response_iss_parameter_supported: bool = False
    legacy: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerMetadata:
        data = _known(cls, data)
        for name in (
            "scopes_supported",
            "token_endpoint_auth_methods_supported",
            "grant_types_supported",
        ):
            data[name] = _tuple(data.get(name))
        data["code_challenge_methods_supported"] = (
            _tuple(data.get("code_challenge_methods_supported")) or ()
        )
        return cls(**data)


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """The client's identity at one authorization server (``issuer``).

    ``token_endpoint_auth_method`` is how token requests authenticate: ``none`` (public),
    ``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt`` (then
    ``private_key_pem`` and ``signing_alg`` sign the assertion).
    """

    client_id: str
    issuer: str
    source: RegistrationSource
    token_endpoint_auth_method: str = "none"
    client_secret: str | None = field(default=None, repr=False)
    redirect_uris: tuple[str, ...] = ()
    registered_at: int = 0
    private_key_pem: str | None = field(default=None, repr=False)
    signing_alg: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientRegistration:
        data = _known(cls, data)
        data["redirect_uris"] = _tuple(data.get("redirect_uris")) or ()
        return cls(**data)


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from one token response; ``expires_at`` absolute (None: the server did not say)."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    obtained_at: float = 0.0

    def expires_within(self, seconds: float, now: float) -> bool:
        """True when the token is expired or will be within ``seconds`` of ``now``."""
        return self.expires_at is not None and self.expires_at - seconds <= now

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        return cls(**_known(cls, data))


@dataclass(frozen=True, slots=True)
class Session:
    """Everything known about one MCP server (``resource``): where its tokens come from, and them.

    ``requested_scope`` is what was last asked for (the base of a step-up's union);
    ``subject`` is the user the tokens act for, when the client could learn it.
    """

    resource: str
    issuer: str
    server: ServerMetadata
    protected: ResourceMetadata | None = None
    tokens: TokenSet | None = None
    requested_scope: str | None = None
    subject: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "issuer": self.issuer,
            "server": self.server.to_json(),
            "protected": None if self.protected is None else self.protected.to_json(),
            "tokens": None if self.tokens is None else self.tokens.to_json(),
            "requested_scope": self.requested_scope,
            "subject": self.subject,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        protected = data.get("protected")
        tokens = data.get("tokens")
        return cls(
            resource=data["resource"],
            issuer=data["issuer"],
            server=ServerMetadata.from_json(data["server"]),
            protected=None if protected is None else ResourceMetadata.from_json(protected),
            tokens=None if tokens is None else TokenSet.from_json(tokens),
            requested_scope=data.get("requested_scope"),
            subject=data.get("subject"),
        )
