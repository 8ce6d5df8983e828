"""``ostiary user``: the people who can sign in."""

from __future__ import annotations

import secrets
import sys
import time

import click

from ostiary.cli.common import store_options, with_storage
from ostiary.cli.errors import CliError
from ostiary.core.models import User, UserId
from ostiary.crypto.passwords import hash_password
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import DuplicateError, Storage

MIN_PASSWORD = 8


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise CliError(f"password must be at least {MIN_PASSWORD} characters")
    return password


def check_username(name: str) -> str:
    if not name or len(name) > 150 or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise CliError("username must be 1-150 printable characters without spaces")
    return name


async def create_user(storage: Storage, name: str, password: str) -> User:
    user = User(
        user_id=UserId(secrets.token_urlsafe(12)),
        username=check_username(name),
        password_hash=hash_password(password),
        created_at=int(time.time()),
    )
    try:
        await storage.add_user(user)
    except DuplicateError:
        raise CliError(f"user {name!r} already exists") from None
    return user


@click.group("user")
def user_group() -> None:
    """Manage the users who can sign in."""


@user_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@store_options
@with_storage
async def add(
    storage: Storage, settings: AuthServerSettings, name: str, password_stdin: bool
) -> None:
    """Add a user."""
    await create_user(storage, name, read_password(password_stdin))
    click.echo(f"added user {name}")


@user_group.command("list")
@store_options
@with_storage
async def list_users(storage: Storage, settings: AuthServerSettings) -> None:
    """List users."""
    for user in await storage.list_users():
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(user.created_at))
        click.echo(f"{user.username}\tcreated {created} UTC")


@user_group.command("remove")
@click.argument("name")
@store_options
@with_storage
async def remove(storage: Storage, settings: AuthServerSettings, name: str) -> None:
    """Remove a user and revoke everything they authorized."""
    if not await storage.delete_user(name, int(time.time())):
        raise CliError(f"no user named {name!r}")
    click.echo(f"removed user {name}")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@store_options
@with_storage
async def passwd(
    storage: Storage, settings: AuthServerSettings, name: str, password_stdin: bool
) -> None:
    """Set a user's password."""
    if await storage.get_user_by_name(name) is None:
        raise CliError(f"no user named {name!r}")
    await storage.set_password(name, hash_password(read_password(password_stdin)))
    click.echo(f"password changed for {name}")
