"""A full dump of the database holds no usable secret: no code, token, client secret,
password or private key, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import threading

import asyncpg
import httpx
from tests.support.flows import (
    CallbackListener,
    Pkce,
    authorization_url,
    authorize_with_httpx,
    code_form,
    query_of,
    refresh_form,
)
from tests.support.process import RunningServer

TABLES = ("users", "clients", "grants", "authorization_codes", "refresh_tokens", "consents",
          "signing_keys")  # fmt: skip


def dump(database: str) -> str:
    """Every row of every table, as text (bytes shown raw and base64, as a dump would)."""
    if database.startswith("sqlite"):
        with sqlite3.connect(database.split("///", 1)[1]) as conn:
            return "\n".join(conn.iterdump())

    async def rows() -> str:
        url = database.replace("postgresql+asyncpg://", "postgresql://", 1)
        conn = await asyncpg.connect(url)
        try:
            out = []
            for table in TABLES:
                for record in await conn.fetch(f"SELECT * FROM {table}"):  # noqa: S608
                    for value in record.values():
                        raw = value if isinstance(value, bytes) else str(value).encode()
                        out.append(f"{raw!r} {base64.b64encode(raw).decode()}")
            return "\n".join(out)
        finally:
            await conn.close()

    result: list[str] = []  # in a thread: Playwright's or pytest-asyncio's loop may be running
    worker = threading.Thread(target=lambda: result.append(asyncio.run(rows())))
    worker.start()
    worker.join()
    return result[0]


def test_database_dump_holds_no_usable_secret(
    server: RunningServer, callback: CallbackListener
) -> None:
    public_id, _ = server.add_client("--name", "Dumped", "--redirect-uri", callback.redirect_uri)
    private_id, client_secret = server.add_client(
        "--name", "Private", "--redirect-uri", "https://svc.example/cb", "--confidential"
    )
    assert client_secret
    pkce = Pkce.new()
    url = authorization_url(
        server.issuer, client_id=public_id, redirect_uri=callback.redirect_uri, pkce=pkce, state="d"
    )
    with httpx.Client(timeout=10) as http:
        code = query_of(
            authorize_with_httpx(http, url, username="admin", password=server.admin_password)
        )["code"]
        first = http.post(
            f"{server.issuer}/token",
            data=code_form(code, pkce, public_id, callback.redirect_uri, server.issuer),
        ).json()
        second = http.post(
            f"{server.issuer}/token", data=refresh_form(first["refresh_token"], public_id)
        ).json()
    secrets_in_clear = {
        "authorization code": code,
        "first access token": first["access_token"],
        "first refresh token": first["refresh_token"],
        "second access token": second["access_token"],
        "second refresh token": second["refresh_token"],
        "client secret": client_secret,
        "admin password": server.admin_password,
    }
    text = dump(server.database)
    assert "ES256" in text  # the dump did read the tables
    assert "BEGIN PRIVATE KEY" not in text
    for name, value in secrets_in_clear.items():
        assert value not in text, f"the {name} is in the database dump"
        encoded = base64.b64encode(value.encode()).decode()
        assert encoded not in text, f"the {name} is in the database dump (base64)"
    assert private_id in text  # identifiers are not secrets and are there
