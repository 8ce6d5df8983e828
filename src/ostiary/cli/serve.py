"""``ostiary serve``: the all-in-one authorization server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import click
import uvicorn

from ostiary.cli.common import make_settings, opened_storage, server_keys, store_options
from ostiary.cli.errors import CliError
from ostiary.cli.users import create_user
from ostiary.server.app import create_app
from ostiary.server.context import build_context
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage

log = logging.getLogger("ostiary.server")


async def first_start(storage: Storage) -> str | None:
    """On first start with no users, create ``admin`` with a random password to print once."""
    if await storage.count_users():
        return None
    password = secrets.token_urlsafe(15)
    await create_user(storage, "admin", password)
    return password


LOOPBACK_WARNING = (
    "WARNING: --allow-loopback-metadata is on: client metadata documents and jwks_uri may be\n"
    "fetched from loopback hosts over plain http. This is for tests only; never run a real\n"
    "server with it."
)


def banner(settings: AuthServerSettings, admin_password: str | None) -> str:
    issuer = settings.issuer
    base = issuer.rstrip("/")
    lines = [
        "Ostiary authorization server",
        f"  issuer:    {issuer}",
        f"  metadata:  {settings.issuer_metadata_url}",
        f"  sign in:   {base}/login",
        f"  resources: {' '.join(settings.resources)}",
        f"  database:  {settings.database_url}",
    ]
    if settings.allow_loopback_metadata:
        lines += ["", LOOPBACK_WARNING]
    if admin_password:
        lines += [
            "",
            "First start: created user 'admin' with password (shown only this once):",
            f"  {admin_password}",
            "Change it with: ostiary user passwd admin",
        ]
    return "\n".join([*lines, "", "Press Ctrl+C to stop."])


def listen(host: str, port: int) -> socket.socket:
    """Bind before announcing anything, so a busy port is one clear error line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without
    # it every keep-alive response waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


async def serve_forever(settings: AuthServerSettings) -> None:
    keys = server_keys(settings)
    sock = listen(settings.host, settings.port)
    async with opened_storage(settings) as storage:
        password = await first_start(storage)
        ctx = await build_context(
            settings.server_config(),
            storage,
            keys,
            templates_dir=settings.templates,
            key_policy=settings.key_policy(),
            allow_loopback_metadata=settings.allow_loopback_metadata,
        )
        if settings.allow_loopback_metadata:
            log.warning("allow_loopback_metadata is on: SSRF protection for loopback is off")
        config = uvicorn.Config(
            create_app(ctx),
            log_level=settings.log_level,
            access_log=settings.log_level == "debug",
            proxy_headers=False,
            server_header=False,
            lifespan="on",
        )
        click.echo(banner(settings, password))
        sys.stdout.flush()
        await uvicorn.Server(config).serve(sockets=[sock])


@click.command("serve")
@click.option("--host", help="Address to listen on [OSTIARY_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Port [OSTIARY_PORT; default 8000].")
@click.option("--public-url", help="The issuer URL [OSTIARY_PUBLIC_URL; default http://HOST:PORT].")
@click.option("--access-token-ttl", type=int, help="Seconds [OSTIARY_ACCESS_TOKEN_TTL; 3600].")
@click.option(
    "--refresh-token-ttl", type=int, help="Seconds, sliding [OSTIARY_REFRESH_TOKEN_TTL; 30 days]."
)
@click.option("--resource", multiple=True, help="Another protected resource URL (repeatable).")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of templates overriding the built-in pages.",
)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option(
    "--signing-alg",
    type=click.Choice(["ES256", "RS256", "EdDSA", "Ed25519"]),
    help="Algorithm of a newly generated signing key [OSTIARY_SIGNING_ALG; ES256].",
)
@click.option(
    "--allow-loopback-metadata",
    is_flag=True,
    default=None,
    help="TESTS ONLY: fetch client metadata documents from loopback hosts, plain http too "
    "[OSTIARY_ALLOW_LOOPBACK_METADATA; off].",
)
@store_options
def serve(**options: Any) -> None:
    """Run the authorization server (SQLite by default)."""
    settings = make_settings(**options)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(settings))
