"""``ostiary client``: registered OAuth clients."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import click

from ostiary.cli.common import policy_file, server_keys, store_options, with_storage
from ostiary.cli.errors import CliError
from ostiary.core.endpoints.register import link, public_jwks
from ostiary.core.errors import OAuthError
from ostiary.core.models import AuthMethod, Client, ClientId, GrantType
from ostiary.core.registration import check_redirect_uri
from ostiary.core.scopes import SUPPORTED_SCOPES, format_scope, parse_scope
from ostiary.crypto.tokens import TokenHasher, new_token
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage


@click.group("client")
def client_group() -> None:
    """Manage OAuth clients."""


def _scopes(value: str | None, policy: Path | None) -> frozenset[str] | None:
    """The scopes given, each one built in or named by the server's ``--policy`` file."""
    if value is None:
        return None
    try:
        scopes = parse_scope(value)
    except OAuthError:
        raise CliError("--scope must be space-separated scope names") from None
    known = list(SUPPORTED_SCOPES)
    if policy is not None:
        known += [s for s in policy_file(policy).scopes_supported if s not in known]
    unknown = scopes - set(known)
    if unknown:
        hint = "" if policy is not None else " (a scope of the server's policy: add --policy FILE)"
        raise CliError(f"unknown scope {format_scope(unknown)}; known: {' '.join(known)}{hint}")
    return scopes


def _redirect_uris(values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(check_redirect_uri(v) for v in values)
    except OAuthError as exc:
        raise CliError(f"--redirect-uri: {exc.description}") from None


def _grant_types(values: tuple[str, ...], redirect_uris: tuple[str, ...]) -> tuple[GrantType, ...]:
    grants = tuple(dict.fromkeys(GrantType(v) for v in values)) or DEFAULT_GRANT_TYPES
    if GrantType.AUTHORIZATION_CODE in grants and not redirect_uris:
        raise click.UsageError(
            "Missing option '--redirect-uri' (the authorization_code grant needs one)"
        )
    return grants


def _keys(
    method: AuthMethod, jwks_file: Path | None, jwks_uri: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """``--jwks-file`` or ``--jwks-uri``: exactly one, and only for ``private_key_jwt``."""
    if method is not AuthMethod.PRIVATE_KEY_JWT:
        if jwks_file is not None or jwks_uri is not None:
            raise CliError("--jwks-file and --jwks-uri need --auth-method private_key_jwt")
        return None, None
    if (jwks_file is None) == (jwks_uri is None):
        raise CliError("--auth-method private_key_jwt needs exactly one of --jwks-file, --jwks-uri")
    try:
        if jwks_uri is not None:
            return None, link({"jwks_uri": jwks_uri}, "jwks_uri", https_only=True)
        assert jwks_file is not None
        try:
            document = json.loads(jwks_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CliError(f"--jwks-file: cannot read a JSON JWK Set ({exc})") from None
        return public_jwks(document), None
    except OAuthError as exc:
        raise CliError(f"{exc.description}") from None


DEFAULT_GRANT_TYPES = (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN)


@client_group.command("add")
@click.option("--name", required=True, help="Name shown on the consent page.")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Repeatable; required with the authorization_code grant.",
)
@click.option("--confidential", is_flag=True, help="Issue a client secret.")
@click.option(
    "--auth-method",
    type=click.Choice(
        [
            AuthMethod.CLIENT_SECRET_BASIC.value,
            AuthMethod.CLIENT_SECRET_POST.value,
            AuthMethod.PRIVATE_KEY_JWT.value,
        ]
    ),
    default=AuthMethod.CLIENT_SECRET_BASIC.value,
    show_default=True,
    help="How a confidential client authenticates; private_key_jwt (no secret) needs "
    "--jwks-file or --jwks-uri.",
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice([g.value for g in GrantType]),
    help="Repeatable (default: authorization_code and refresh_token); client_credentials "
    "needs a confidential client.",
)
@click.option(
    "--jwks-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="private_key_jwt: a JSON JWK Set of the client's public keys.",
)
@click.option("--jwks-uri", help="private_key_jwt: an https URL serving the client's JWK Set.")
@click.option("--scope", help="Space-separated scopes the client may ask for (default: all).")
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The scope policy the server runs with: its own scopes may be given to --scope.",
)
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
    grant_types: tuple[str, ...],
    jwks_file: Path | None,
    jwks_uri: str | None,
    scope: str | None,
    policy: Path | None,
) -> None:
    """Register a client; prints its id, and its secret once."""
    if not name.strip() or len(name) > 200:
        raise CliError("--name must be 1-200 characters")
    grants = _grant_types(grant_types, redirect_uris)
    key_based = AuthMethod(auth_method) is AuthMethod.PRIVATE_KEY_JWT
    method = AuthMethod(auth_method) if key_based or confidential else AuthMethod.NONE
    if GrantType.CLIENT_CREDENTIALS in grants and method is AuthMethod.NONE:
        raise CliError("--grant-type client_credentials needs --confidential or private_key_jwt")
    jwks, uri = _keys(method, jwks_file, jwks_uri)
    secret = new_token() if confidential and not key_based else None
    hasher = TokenHasher(server_keys(settings).token_hashing)
    client = Client(
        client_id=ClientId(secrets.token_urlsafe(16)),
        client_name=name.strip(),
        redirect_uris=_redirect_uris(redirect_uris),
        token_endpoint_auth_method=method,
        grant_types=grants,
        scope=_scopes(scope, policy),
        secret_hash=hasher.hash(secret) if secret else None,
        created_at=int(time.time()),
        jwks=jwks,
        jwks_uri=uri,
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
