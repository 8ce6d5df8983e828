"""``ostiary grant``: what users authorized, and taking it back as an operator."""

from __future__ import annotations

import time

import click

from ostiary.cli.common import store_options, with_storage
from ostiary.cli.errors import CliError
from ostiary.cli.times import format_time
from ostiary.core.account import revoke
from ostiary.core.clock import SystemClock
from ostiary.core.models import ClientId, Grant, GrantId, UserId
from ostiary.core.scopes import format_scope
from ostiary.server.audit import AuditLog
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage


@click.group("grant")
def grant_group() -> None:
    """List and revoke the authorizations users gave clients."""


def grant_line(grant: Grant, usernames: dict[UserId, str]) -> str:
    """Id, user, client, scopes, created, last used, revoked (or ``active``), tab-separated."""
    state = f"revoked {format_time(grant.revoked_at)}" if grant.revoked_at else "active"
    return "\t".join(
        (
            grant.grant_id,
            usernames.get(grant.user_id, grant.user_id),
            grant.client_id,
            format_scope(grant.scopes),
            f"created {format_time(grant.created_at)}",
            f"last used {format_time(grant.last_used_at, 'never')}",
            state,
        )
    )


@grant_group.command("list")
@click.option("--user", "username", help="Only this user's grants.")
@click.option("--client", "client_id", help="Only this client's grants.")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked grants.")
@store_options
@with_storage
async def list_grants(
    storage: Storage,
    settings: AuthServerSettings,
    *,
    username: str | None,
    client_id: str | None,
    include_revoked: bool,
) -> None:
    """List grants, newest first (live ones only unless --all)."""
    user_id: UserId | None = None
    if username is not None:
        user = await storage.get_user_by_name(username)
        if user is None:
            raise CliError(f"no user named {username!r}")
        user_id = user.user_id
    grants = await storage.list_grants(
        user_id=user_id,
        client_id=ClientId(client_id) if client_id is not None else None,
        include_revoked=include_revoked,
    )
    usernames = {u.user_id: u.username for u in await storage.list_users()} if grants else {}
    for grant in grants:
        click.echo(grant_line(grant, usernames))


@grant_group.command("revoke")
@click.argument("grant_id")
@store_options
@with_storage
async def revoke_grant(storage: Storage, settings: AuthServerSettings, grant_id: str) -> None:
    """Revoke a grant: every token from it stops working, and the user is asked again."""
    grant = await storage.get_grant(GrantId(grant_id))
    if grant is None:
        raise CliError(f"no grant {grant_id!r}")
    events = AuditLog(storage, SystemClock())
    if not await revoke(grant, "operator", storage=storage, events=events, now=int(time.time())):
        raise CliError(f"grant {grant_id!r} is already revoked")
    click.echo(f"revoked grant {grant_id}")
