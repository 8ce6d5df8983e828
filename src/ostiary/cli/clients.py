"""``ostiary client``: registered OAuth clients."""

from __future__ import annotations

import secrets
import time

import click

from ostiary.cli.common import server_keys, store_options, with_storage
from ostiary.cli.errors import CliError
from ostiary.core.errors import OAuthError
from ostiary.core.models import AuthMethod, Client, ClientId
from ostiary.core.registration import check_redirect_uri
from ostiary.core.scopes import SUPPORTED_SCOPES, format_scope, parse_scope
from ostiary.crypto.tokens import TokenHasher, new_token
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage


@click.group("client")
def client_group() -> None:
    """Manage OAuth clients."""


def _scopes(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    try:
        scopes = parse_scope(value)
    except OAuthError:
        raise CliError("--scope must be space-separated scope names") from None
    unknown = scopes - set(SUPPORTED_SCOPES)
    if unknown:
        raise CliError(
            f"unknown scope {format_scope(unknown)}; known: {' '.join(SUPPORTED_SCOPES)}"
        )
    return scopes


def _redirect_uris(values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(check_redirect_uri(v) for v in values)
    except OAuthError as exc:
        raise CliError(f"--redirect-uri: {exc.description}") from None


@client_group.command("add")
@click.option("--name", required=True, help="Name shown on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="Repeatable.")
@click.option("--confidential", is_flag=True, help="Issue a client secret.")
@click.option(
    "--auth-method",
    type=click.Choice([AuthMethod.CLIENT_SECRET_BASIC.value, AuthMethod.CLIENT_SECRET_POST.value]),
    default=AuthMethod.CLIENT_SECRET_BASIC.value,
    show_default=True,
    help="How a confidential client sends its secret.",
)
@click.option("--scope", help="Space-separated scopes the client may ask for (default: all).")
@store_options
@with_storage
async def add(
    storage: Storage,
    settings: AuthServerSettings,
    *,
    name: str,
    redirect_uris: tuple[str, ...],
    confidential: bool,
    auth_method: str,
    scope: str | None,
) -> None:
    """Register a client; prints its id, and its secret once."""
    if not name.strip() or len(name) > 200:
        raise CliError("--name must be 1-200 characters")
    secret = new_token() if confidential else None
    hasher = TokenHasher(server_keys(settings).token_hashing)
    client = Client(
        client_id=ClientId(secrets.token_urlsafe(16)),
        client_name=name.strip(),
        redirect_uris=_redirect_uris(redirect_uris),
        token_endpoint_auth_method=AuthMethod(auth_method) if secret else AuthMethod.NONE,
        scope=_scopes(scope),
        secret_hash=hasher.hash(secret) if secret else None,
        created_at=int(time.time()),
    )
    await storage.save_client(client)
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("(the secret is shown only now; it is stored hashed)", err=True)


@client_group.command("list")
@store_options
@with_storage
async def list_clients(storage: Storage, settings: AuthServerSettings) -> None:
    """List clients."""
    for c in await storage.list_clients():
        kind = "public" if c.is_public else f"confidential ({c.token_endpoint_auth_method})"
        if c.dynamic:
            kind += ", dynamic"
        click.echo(f"{c.client_id}\t{c.client_name}\t{kind}\t{' '.join(c.redirect_uris)}")


@client_group.command("remove")
@click.argument("client_id")
@store_options
@with_storage
async def remove(storage: Storage, settings: AuthServerSettings, client_id: str) -> None:
    """Remove a client and revoke its grants."""
    if not await storage.delete_client(ClientId(client_id), int(time.time())):
        raise CliError(f"no client {client_id!r}")
    click.echo(f"removed client {client_id}")
