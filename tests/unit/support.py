"""Constants and helpers shared by the unit tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.clock import FrozenClock
from ostiary.core.deps import Deps
from ostiary.core.endpoints.authorize import (
    issue_authorization_code,
    validate_authorization_request,
)
from ostiary.core.endpoints.token import token_endpoint
from ostiary.core.models import (
    AuthMethod,
    Client,
    ClientId,
    GrantType,
    SigningKey,
    User,
    UserId,
)
from ostiary.core.responses import TokenResponse
from ostiary.crypto.keys import LoadedKey, jwks_document
from ostiary.crypto.passwords import hash_password
from ostiary.crypto.tokens import TokenHasher
from ostiary.storage.memory import MemoryStorage

ISSUER = "https://as.example.com"
RESOURCE = "https://as.example.com/mcp"
OTHER_RESOURCE = "https://other.example.com/mcp"
ALL_SCOPES = frozenset(
    {"tools:read", "tools:execute", "resources:read", "resources:write", "prompts:read"}
)
HASHING_KEY = bytes(range(32))
ENCRYPTION_KEY = bytes(range(32, 64))

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

PUBLIC_ID = ClientId("public-app")
PUBLIC_REDIRECT = "https://app.example.com/callback"
CONFIDENTIAL_ID = ClientId("confidential-app")
CONFIDENTIAL_REDIRECT = "https://service.example.com/oauth/cb"
CONFIDENTIAL_SECRET = "confidential-secret-0123456789abcdefghijklmnop"
USER_ID = UserId("user-1")
USERNAME = "alice"
PASSWORD = "correct horse battery staple"
STATE = "state-123"

Params = dict[str, list[str]]


class Counter:
    """Deterministic, unique values: ``prefix`` and a zero-padded counter, at least 43 chars."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._n = 0

    def __call__(self) -> str:
        self._n += 1
        return f"{self._prefix}-{self._n:040d}"


@dataclass(frozen=True)
class Harness:
    """A ``Deps`` and direct handles on the pieces inside it."""

    deps: Deps
    storage: MemoryStorage
    clock: FrozenClock
    hasher: TokenHasher
    signing_record: SigningKey
    signing_key: LoadedKey

    @property
    def public_keys(self) -> KeySet:
        return KeySet.import_key_set(jwks_document([self.signing_record]))  # type: ignore[arg-type]


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


async def register_public_client(
    storage: MemoryStorage,
    client_id: str = PUBLIC_ID,
    redirect_uris: tuple[str, ...] = (PUBLIC_REDIRECT,),
    *,
    grant_types: tuple[GrantType, ...] = (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN),
    scope: frozenset[str] | None = None,
) -> Client:
    client = Client(
        client_id=ClientId(client_id),
        client_name=f"{client_id} name",
        redirect_uris=redirect_uris,
        grant_types=grant_types,
        scope=scope,
    )
    await storage.save_client(client)
    return client


async def register_confidential_client(
    storage: MemoryStorage,
    hasher: TokenHasher,
    client_id: str = CONFIDENTIAL_ID,
    secret: str = CONFIDENTIAL_SECRET,
    *,
    method: AuthMethod = AuthMethod.CLIENT_SECRET_BASIC,
    redirect_uris: tuple[str, ...] = (CONFIDENTIAL_REDIRECT,),
) -> Client:
    client = Client(
        client_id=ClientId(client_id),
        client_name=f"{client_id} name",
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=method,
        secret_hash=hasher.hash(secret),
    )
    await storage.save_client(client)
    return client


async def add_user(
    storage: MemoryStorage, user_id: str = USER_ID, username: str = USERNAME
) -> User:
    user = User(user_id=UserId(user_id), username=username, password_hash=password_hash())
    await storage.add_user(user)
    return user


def with_changes(base: Mapping[str, list[str]], changes: Mapping[str, list[str] | None]) -> Params:
    """``base`` with each changed parameter replaced, or removed where the change is None."""
    out = dict(base)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def authorize_params(
    client_id: str = PUBLIC_ID,
    redirect_uri: str | None = PUBLIC_REDIRECT,
    **extra: list[str],
) -> Params:
    params: Params = {
        "client_id": [client_id],
        "response_type": ["code"],
        "code_challenge": [CHALLENGE],
        "code_challenge_method": ["S256"],
        "state": [STATE],
    }
    if redirect_uri is not None:
        params["redirect_uri"] = [redirect_uri]
    params.update(extra)
    return params


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


async def obtain_code(
    h: Harness,
    client_id: str = PUBLIC_ID,
    redirect_uri: str | None = PUBLIC_REDIRECT,
    *,
    user_id: UserId = USER_ID,
    scopes: frozenset[str] | None = None,
    extra: Mapping[str, list[str]] | None = None,
) -> str:
    """Run a valid authorization request through to its code."""
    request = await validate_authorization_request(
        authorize_params(client_id, redirect_uri, **(extra or {})), h.deps
    )
    url = await issue_authorization_code(
        request, user_id, request.scopes if scopes is None else scopes, h.deps
    )
    return query_of(url)["code"][0]


def code_params(
    code: str, redirect_uri: str | None = PUBLIC_REDIRECT, verifier: str = VERIFIER
) -> Params:
    params: Params = {"grant_type": ["authorization_code"], "code": [code]}
    params["code_verifier"] = [verifier]
    if redirect_uri is not None:
        params["redirect_uri"] = [redirect_uri]
    return params


def public_credentials(client_id: str = PUBLIC_ID) -> ClientCredentials:
    return ClientCredentials(client_id=client_id)


async def exchange_code(
    h: Harness, code: str, credentials: ClientCredentials | None = None, **extra: list[str]
) -> TokenResponse:
    params = code_params(code)
    params.update(extra)
    return await token_endpoint(params, credentials or public_credentials(), h.deps)


async def refresh(
    h: Harness,
    refresh_token: str,
    credentials: ClientCredentials | None = None,
    **extra: list[str],
) -> TokenResponse:
    params: Params = {"grant_type": ["refresh_token"], "refresh_token": [refresh_token]}
    params.update(extra)
    return await token_endpoint(params, credentials or public_credentials(), h.deps)


async def token_pair(h: Harness, **authorize_extra: list[str]) -> TokenResponse:
    """A fresh access and refresh token for the public client."""
    code = await obtain_code(h, extra=authorize_extra)
    return await exchange_code(h, code)


def decode_access_token(h: Harness, token: str) -> jwt.Token:
    return jwt.decode(token, h.public_keys, algorithms=["ES256"])


def storage_dump(storage: MemoryStorage) -> str:
    """Every record the store holds, as text, to search for a secret that must not be there."""
    tables: list[dict[Any, Any]] = [
        storage.clients,
        storage.users,
        storage.grants,
        storage.codes,
        storage.refresh_tokens,
        storage.consents,
        storage.keys,
    ]
    return "\n".join(f"{k!r}: {v!r}" for table in tables for k, v in table.items())
