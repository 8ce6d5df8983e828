"""Fixtures for the unit tier: the pure core on ``MemoryStorage`` and a ``FrozenClock``."""

from __future__ import annotations

import pytest

from ostiary.core.clock import FrozenClock
from ostiary.core.config import ServerConfig
from ostiary.core.deps import Deps
from ostiary.core.models import Client, SigningKey, User
from ostiary.crypto.jwt import JwtSigner
from ostiary.crypto.keys import LoadedKey, generate_signing_key, load_signing_key
from ostiary.crypto.sealing import TokenSealer
from ostiary.crypto.tokens import TokenHasher
from ostiary.storage.memory import MemoryStorage

from .support import (
    ENCRYPTION_KEY,
    HASHING_KEY,
    ISSUER,
    OTHER_RESOURCE,
    RESOURCE,
    Counter,
    Harness,
    add_user,
    register_confidential_client,
    register_public_client,
)


@pytest.fixture
def config() -> ServerConfig:
    return ServerConfig(issuer=ISSUER, resources=(RESOURCE, OTHER_RESOURCE))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def hasher() -> TokenHasher:
    return TokenHasher(HASHING_KEY)


@pytest.fixture(scope="session")
def signing_record() -> SigningKey:
    return generate_signing_key(ENCRYPTION_KEY, now=1_600_000_000)


@pytest.fixture(scope="session")
def signing_key(signing_record: SigningKey) -> LoadedKey:
    return load_signing_key(signing_record, ENCRYPTION_KEY)


@pytest.fixture
def deps(
    config: ServerConfig,
    storage: MemoryStorage,
    clock: FrozenClock,
    hasher: TokenHasher,
    signing_key: LoadedKey,
) -> Deps:
    return Deps(
        config=config,
        storage=storage,
        clock=clock,
        hasher=hasher,
        signer=JwtSigner(signing_key),
        sealer=TokenSealer(),
        new_token=Counter("token"),
        new_id=Counter("id"),
    )


@pytest.fixture
def h(
    deps: Deps,
    *,
    storage: MemoryStorage,
    clock: FrozenClock,
    hasher: TokenHasher,
    signing_record: SigningKey,
    signing_key: LoadedKey,
) -> Harness:
    return Harness(deps, storage, clock, hasher, signing_record, signing_key)


@pytest.fixture
async def public_client(storage: MemoryStorage) -> Client:
    return await register_public_client(storage)


@pytest.fixture
async def confidential_client(storage: MemoryStorage, hasher: TokenHasher) -> Client:
    return await register_confidential_client(storage, hasher)


@pytest.fixture
async def user(storage: MemoryStorage) -> User:
    return await add_user(storage)
