"""Data for the benchmark, made before the server starts.

The client and the user are made by the real ``ostiary`` CLI. Refresh-token chains and
authorization codes are then written through the library (``open_storage`` and the
``Storage`` protocol) into the same database, hashed with the ``TokenHasher`` keyed from the
installation's own secret file, exactly as ``/authorize`` and the token endpoint store them:
one grant per code or chain, scopes, audience-bound resource, PKCE S256 challenge, and the
redirect URI the authorization request named. Only the codes' lifetime differs: they are
minted up to a couple of minutes before use, so they get ``CODE_TTL`` instead of the
server's 60 s (the expiry check costs the same).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.servers import OSTIARY
from ostiary.core.models import AuthorizationCode, ClientId, Grant, GrantId, RefreshToken
from ostiary.core.pkce import s256_challenge
from ostiary.crypto.server_secret import ServerKeys, load_or_create_secret
from ostiary.crypto.tokens import TokenHasher, new_token
from ostiary.storage.sql import open_storage

POSTGRES_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCOPES = frozenset({"tools:read", "tools:execute"})
CODE_TTL = 3600
REFRESH_TTL = 30 * 24 * 3600
REDIRECT_URI = "http://127.0.0.1:33418/callback"
USERNAME = "bench"
BATCH = 64


@dataclass(frozen=True)
class Installation:
    """One Ostiary installation: its data folder, database and future address."""

    data_dir: Path
    database: str
    port: int

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def resource(self) -> str:
        return f"{self.issuer}/mcp"  # the default protected resource of ``ostiary serve``

    @property
    def env(self) -> dict[str, str]:
        return {"OSTIARY_DATA_DIR": str(self.data_dir), "OSTIARY_DATABASE": self.database}

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [OSTIARY, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ostiary {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout


@dataclass(frozen=True)
class Prepared:
    client_id: str
    chains: list[str]  # one live refresh token per virtual client
    codes: list[tuple[str, str]]  # (code, PKCE verifier), each single-use


def register(inst: Installation) -> str:
    """A public client and a user, through the real CLI; returns the client id."""
    out = inst.cli("client", "add", "--name", "bench", "--redirect-uri", REDIRECT_URI)
    found = re.search(r"client_id: (\S+)", out)
    if found is None:
        raise RuntimeError(f"no client_id in: {out!r}")
    inst.cli("user", "add", USERNAME, "--password-stdin", stdin=secrets.token_urlsafe(16) + "\n")
    return found.group(1)


async def _in_batches(jobs: Iterator[Awaitable[None]]) -> None:
    batch: list[Awaitable[None]] = []
    for job in jobs:
        batch.append(job)
        if len(batch) == BATCH:
            await asyncio.gather(*batch)
            batch = []
    await asyncio.gather(*batch)


async def mint(inst: Installation, client_id: str, chains: int, codes: int) -> Prepared:
    """Write ``chains`` refresh tokens and ``codes`` authorization codes into the database."""
    keys = ServerKeys.from_secret(load_or_create_secret(inst.data_dir / "ostiary.secret"))
    hasher = TokenHasher(keys.token_hashing)
    storage = await open_storage(inst.database)
    try:
        user = await storage.get_user_by_name(USERNAME)
        if user is None:
            raise RuntimeError("the bench user is missing")
        now = int(time.time())
        client = ClientId(client_id)

        def grant() -> Grant:
            return Grant(
                grant_id=GrantId(secrets.token_urlsafe(16)),
                user_id=user.user_id,
                client_id=client,
                scopes=SCOPES,
                resource=inst.resource,
                created_at=now,
            )

        tokens = [new_token() for _ in range(chains)]
        pairs = [(new_token(), new_token()) for _ in range(codes)]

        async def save_chain(token: str) -> None:
            g = grant()
            await storage.save_grant(g)
            await storage.save_refresh_token(
                RefreshToken(
                    token_hash=hasher.hash(token),
                    grant_id=g.grant_id,
                    client_id=client,
                    user_id=user.user_id,
                    scopes=SCOPES,
                    resource=inst.resource,
                    expires_at=now + REFRESH_TTL,
                    created_at=now,
                )
            )

        async def save_code(code: str, verifier: str) -> None:
            g = grant()
            await storage.save_grant(g)
            await storage.save_authorization_code(
                AuthorizationCode(
                    code_hash=hasher.hash(code),
                    grant_id=g.grant_id,
                    client_id=client,
                    user_id=user.user_id,
                    redirect_uri=REDIRECT_URI,
                    code_challenge=s256_challenge(verifier),
                    resource=inst.resource,
                    scopes=SCOPES,
                    expires_at=now + CODE_TTL,
                    created_at=now,
                )
            )

        await _in_batches(save_chain(t) for t in tokens)
        await _in_batches(save_code(c, v) for c, v in pairs)
    finally:
        await storage.close()
    return Prepared(client_id, tokens, pairs)


# --- a fresh PostgreSQL database ------------------------------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(_plain(server_url), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    """Create an empty database on ``server_url``'s server; yield its URL; drop it after."""
    name = f"ostiary_bench_{secrets.token_hex(6)}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server_url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
