"""``ostiary key``: the JWT signing keys (rotation and their publication in the JWKS)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from ostiary.cli.common import server_keys, store_options, with_storage
from ostiary.server.keyring import key_states, rotate_signing_key
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage

ALGORITHM_CHOICES = ["ES256", "RS256", "EdDSA", "Ed25519"]


def timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@click.group("key")
def key_group() -> None:
    """Manage the keys that sign access tokens."""


@key_group.command("rotate")
@click.option(
    "--alg",
    type=click.Choice(ALGORITHM_CHOICES),
    help="Algorithm of the new key [default: OSTIARY_SIGNING_ALG, else ES256].",
)
@store_options
@with_storage
async def rotate(storage: Storage, settings: AuthServerSettings, *, alg: str | None) -> None:
    """Make a new key current; the old ones stay published until their tokens expire."""
    policy = settings.key_policy()
    now = int(time.time())
    encryption_key = server_keys(settings).key_encryption
    record, retired = await rotate_signing_key(storage, encryption_key, now, alg or policy.alg)
    click.echo(f"current key: {record.kid} ({record.alg})")
    for kid in retired:
        click.echo(f"retired key: {kid} (published until {timestamp(policy.window_end(now))})")
    click.echo(
        f"A running server signs with the new key within {policy.reload_interval} s "
        "(its key reload interval).",
        err=True,
    )


@key_group.command("list")
@store_options
@with_storage
async def list_keys(storage: Storage, settings: AuthServerSettings) -> None:
    """Every key, oldest first: kid, algorithm, created, state.

    A retired key stays in the JWKS until access-token TTL + reload interval + leeway after
    its retirement; after that it is ``expired``: kept in the store, no longer published.
    """
    policy = settings.key_policy()
    for key, state in key_states(await storage.list_signing_keys(), policy, int(time.time())):
        shown: str = state
        if key.retired_at is not None:
            until = timestamp(policy.window_end(key.retired_at))
            shown = f"retired, published until {until}" if state == "retired" else "expired"
        click.echo(f"{key.kid}\t{key.alg}\t{timestamp(key.created_at)}\t{shown}")
