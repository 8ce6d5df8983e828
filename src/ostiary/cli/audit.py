"""``ostiary audit``: the security events the server recorded."""

from __future__ import annotations

import time

import click

from ostiary.cli.common import store_options, with_storage
from ostiary.cli.times import format_time, parse_since
from ostiary.core.models import AuditEvent
from ostiary.gateway.call_audit import EVENT as CALL_EVENT
from ostiary.gateway.call_audit import parse_detail
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage


def audit_line(event: AuditEvent, usernames: dict[str, str]) -> str:
    """Time (UTC), event, outcome, user, client, grant, address, detail; ``-`` when absent."""
    user = usernames.get(event.user_id, event.user_id) if event.user_id else None
    fields = (
        format_time(event.at),
        event.event,
        event.outcome,
        f"user={user or '-'}",
        f"client={event.client_id or '-'}",
        f"grant={event.grant_id or '-'}",
        f"address={event.address or '-'}",
        " ".join(event.detail.split()),  # one line per event, whatever the detail holds
    )
    return "\t".join(fields).rstrip()


CALL_FIELDS = ("token", "method", "name", "decision", "latency_ms")


def call_line(event: AuditEvent, usernames: dict[str, str]) -> str:
    """Time (UTC), user, client, token id, method, name, decision, upstream latency (ms),
    outcome, and the error when there was one; ``-`` when absent."""
    user = usernames.get(event.user_id, event.user_id) if event.user_id else None
    detail = parse_detail(event.detail)
    fields = [
        format_time(event.at),
        f"user={user or '-'}",
        f"client={event.client_id or '-'}",
        *(f"{name}={detail.get(name, '-')}" for name in CALL_FIELDS),
        f"outcome={event.outcome}",
    ]
    if "error" in detail:
        fields.append(f"error={detail['error']}")
    return "\t".join(fields)


@click.command("audit")
@click.option(
    "--since",
    help="From this time: an ISO date or time in UTC (2026-11-27, 2026-11-27T10:00) "
    "or a duration back from now (30m, 1h, 2d, 1w).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="At most this many events (the newest).",
)
@click.option(
    "--calls", is_flag=True, help="Only the MCP calls a gateway forwarded or denied, in columns."
)
@store_options
@with_storage
async def audit(
    storage: Storage, settings: AuthServerSettings, *, since: str | None, limit: int, calls: bool
) -> None:
    """Print the audit trail, oldest first, one event per line."""
    start = parse_since(since, int(time.time())) if since else 0
    kinds = {CALL_EVENT} if calls else None
    events = await storage.list_audit(since=start, limit=limit, events=kinds)
    usernames: dict[str, str] = {}
    if events:
        usernames = {u.user_id: u.username for u in await storage.list_users()}
    line = call_line if calls else audit_line
    for event in events:
        click.echo(line(event, usernames))
