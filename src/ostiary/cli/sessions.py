"""``ostiary login``, ``logout``, ``status`` and ``token``: the client's stored sessions."""

from __future__ import annotations

import time
from typing import Any

import click

from ostiary.cli.remote import build_client, client_options, closing, emit, run_client
from ostiary.cli.times import format_time
from ostiary.client.models import Session
from ostiary.client.store import default_store


def describe(session: Session, now: float) -> dict[str, Any]:
    tokens = session.tokens
    expires = None if tokens is None or tokens.expires_at is None else int(tokens.expires_at)
    return {
        "server": session.resource,
        "issuer": session.issuer,
        "user": session.subject,
        "scopes": (tokens.scope or "").split() if tokens is not None else [],
        "expires_at": expires,
        "expired": tokens is None or (expires is not None and expires <= now),
        "refreshable": tokens is not None and tokens.refresh_token is not None,
    }


def render(row: dict[str, Any]) -> str:
    state = "expired" if row["expired"] else f"valid until {format_time(row['expires_at'])}"
    refresh = ", refreshable" if row["refreshable"] else ""
    scopes = " ".join(row["scopes"]) or "-"
    return (
        f"{row['server']}\n  user:   {row['user'] or '-'}\n  issuer: {row['issuer']}\n"
        f"  scopes: {scopes}\n  token:  {state}{refresh}"
    )


@click.command()
@click.argument("url")
@click.option("--force", is_flag=True, help="Sign in again even with valid tokens.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@client_options
@run_client
async def login(url: str, force: bool, as_json: bool, **given: Any) -> None:
    """Sign in to the MCP server at URL and keep its tokens."""
    client = build_client(url, given)
    session = await closing(client, client.login(force=force))
    emit(describe(session, time.time()), as_json, lambda row: "Signed in.\n" + render(row))


@click.command()
@click.argument("url")
@run_client
async def logout(url: str) -> None:
    """Forget the tokens for URL (revoking them where the server allows)."""
    client = build_client(url, {})
    forgotten = await closing(client, client.logout())
    click.echo("Signed out." if forgotten else f"No session for {client.resource}.")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Every stored session: server, user, scopes, expiry."""
    now = time.time()
    rows = [describe(s, now) for s in sorted(default_store().sessions(), key=lambda s: s.resource)]
    emit(rows, as_json, lambda rs: "\n".join(render(r) for r in rs) or "No sessions.")


@click.command()
@click.argument("url")
@client_options
@run_client
async def token(url: str, **given: Any) -> None:
    """Print a valid access token for URL (refreshing, or signing in, when needed)."""
    client = build_client(url, given)
    session = await closing(client, client.login())
    assert session.tokens is not None
    click.echo(session.tokens.access_token)
