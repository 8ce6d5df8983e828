"""``ostiary gateway``: OAuth in front of an existing MCP server, stdio or HTTP.

``ostiary gateway -- COMMAND ARGS…`` runs ``COMMAND`` (a stdio MCP server) once per user and
serves it as a protected streamable-HTTP endpoint at ``/mcp``; ``ostiary gateway --upstream
URL`` does the same for an HTTP MCP server. The built-in authorization server runs on the same
origin (SQLite by default, as ``ostiary serve``), unless ``--trust-issuer URL`` makes the
gateway a resource server for an external one. Every forwarded or denied call is audited
(``ostiary audit --calls``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import uvicorn
from starlette.types import ASGIApp

from ostiary.cli.common import make_settings, opened_storage, policy_file, server_keys
from ostiary.cli.errors import CliError
from ostiary.cli.serve import (
    McpOptions,
    banner,
    configure_logging,
    external_verifier,
    first_start,
    listen,
    origin_option,
    policy_option,
    protect,
    server_options,
    trust_options,
    uvicorn_config,
)
from ostiary.gateway.call_audit import CallAudit
from ostiary.gateway.http_app import HttpGateway
from ostiary.gateway.pool import StdioCommand, UpstreamPool, UserName
from ostiary.gateway.stdio_app import StdioGateway
from ostiary.gateway.tool_filter import ToolFilter
from ostiary.resource.mount import SameOrigin
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.tokens import VerifiedToken
from ostiary.resource.verifiers import LocalVerifier
from ostiary.server.app import create_app
from ostiary.server.context import build_context
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage

log = logging.getLogger("ostiary.gateway")


@dataclass(frozen=True)
class Upstream:
    """The server behind the gateway and what it is given."""

    command: tuple[str, ...] = ()
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    user_env: dict[str, dict[str, str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    user_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    max_processes: int = 16
    idle_timeout: float = 600.0
    cwd: str | None = None


def _value(raw: str, option: str) -> str:
    """``@PATH`` reads the value from a file (so secrets stay off the command line)."""
    if not raw.startswith("@"):
        return raw
    try:
        return Path(raw[1:]).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(f"{option}: cannot read {raw[1:]}: {exc.strerror or exc}") from None


def parse_env(pairs: Sequence[str], option: str = "--env") -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name or "\0" in name:
            raise CliError(f"{option} {pair}: expected NAME=VALUE")
        env[name] = _value(raw, option)
    return env


def parse_headers(items: Sequence[str], option: str = "--header") -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        name, sep, raw = item.partition(":")
        name = name.strip()
        if not sep or not name or any(c in name for c in " \t\r\n") or "\n" in raw:
            raise CliError(f"{option} {item}: expected 'Name: value'")
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            raise CliError(f"{option} {item}: {name} is set by the gateway itself")
        headers[name] = _value(raw.strip(), option)
    return headers


def per_user(
    items: Sequence[str], option: str, parse: Callable[[list[str], str], dict[str, str]]
) -> dict[str, dict[str, str]]:
    """``USER:rest`` items grouped by user, each ``rest`` parsed by ``parse``."""
    grouped: dict[str, list[str]] = {}
    for item in items:
        user, sep, rest = item.partition(":")
        if not sep or not user:
            raise CliError(f"{option} {item}: expected USER:…")
        grouped.setdefault(user, []).append(rest)
    return {user: parse(rest, option) for user, rest in grouped.items()}


def local_user_name(storage: Storage) -> UserName:
    """The user name of a token from this server (its subject is the user id)."""

    async def name(token: VerifiedToken) -> str:
        from ostiary.core.models import UserId

        user = await storage.get_user(UserId(token.subject))
        return user.username if user is not None else token.subject

    return name


async def claimed_name(token: VerifiedToken) -> str:
    """An external issuer's ``preferred_username`` when it sends one, else the subject."""
    name = token.claims.get("preferred_username")
    return name if isinstance(name, str) and name else token.subject


def gateway_app(
    upstream: Upstream, policy: ScopePolicy, audit: CallAudit, user_name: UserName
) -> ASGIApp:
    tool_filter = ToolFilter(policy) if policy.hide_denied_tools else None
    if upstream.url is not None:
        return HttpGateway(
            upstream.url,
            headers=upstream.headers,
            user_headers=upstream.user_headers,
            user_name=user_name,
            tool_filter=tool_filter,
            audit=audit,
        )
    command = StdioCommand(upstream.command, upstream.env, upstream.user_env, upstream.cwd)
    pool = UpstreamPool(
        command,
        max_processes=upstream.max_processes,
        idle_timeout=upstream.idle_timeout,
        audit=audit,
        tool_filter=tool_filter,
        user_name=user_name,
    )
    return StdioGateway(pool, audit=audit)


def describe(upstream: Upstream) -> str:
    if upstream.url is not None:
        return upstream.url
    return (
        " ".join(upstream.command) + f"  (one process per user, at most {upstream.max_processes})"
    )


async def run_gateway(
    settings: AuthServerSettings, options: McpOptions, upstream: Upstream
) -> None:
    policy = policy_file(options.policy) if options.policy else ScopePolicy()
    name = "Ostiary gateway"
    if options.trust_issuer is None:
        keys = server_keys(settings)
    else:  # no keys of its own; its data folder holds the call audit's database
        keys = None
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create data folder {settings.data_dir}: {exc}") from None
    sock = listen(settings.host, settings.port)
    async with opened_storage(settings) as storage:
        audit = CallAudit(storage)
        if options.trust_issuer is not None:
            issuer = options.trust_issuer
            verifier: Any = external_verifier(options, issuer, settings.resources[0])
            app = gateway_app(upstream, policy, audit, claimed_name)
            asgi: ASGIApp = SameOrigin(
                protect(
                    app,
                    policy,
                    verifier,
                    settings.resources[0],
                    issuer,
                    origins=options.allowed_origins,
                    name=name,
                    on_denied=audit.denied,
                )
            )
            lines = [
                "Ostiary gateway (resource server only)",
                f"  mcp:       {settings.resources[0]}",
                f"  trusts:    {issuer}",
            ]
        else:
            assert keys is not None
            password = await first_start(storage)
            ctx = await build_context(
                settings.server_config(policy.scopes_supported),
                storage,
                keys,
                templates_dir=settings.templates,
                key_policy=settings.key_policy(),
                allow_loopback_metadata=settings.allow_loopback_metadata,
            )
            verifier = LocalVerifier.for_server(ctx, settings.resources[0])
            app = gateway_app(upstream, policy, audit, local_user_name(storage))
            protected = protect(
                app,
                policy,
                verifier,
                settings.resources[0],
                settings.issuer,
                origins=options.allowed_origins,
                name=name,
                on_denied=audit.denied,
            )
            asgi = SameOrigin(protected, create_app(ctx))
            lines = ["Ostiary gateway", *banner(settings, password).splitlines()[1:-2]]
        click.echo(
            "\n".join([*lines, f"  upstream:  {describe(upstream)}", "", "Press Ctrl+C to stop."])
        )
        sys.stdout.flush()
        try:
            await uvicorn.Server(uvicorn_config(asgi, settings)).serve(sockets=[sock])
        finally:
            if hasattr(verifier, "aclose"):
                await verifier.aclose()


@click.command("gateway", context_settings={"allow_interspersed_args": False})
@server_options
@policy_option
@origin_option
@trust_options
@click.option("--upstream", metavar="URL", help="An HTTP MCP server to put behind the gateway.")
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Environment of the upstream command (repeatable; VALUE @FILE reads a file).",
)
@click.option(
    "--user-env",
    multiple=True,
    metavar="USER:NAME=VALUE",
    help="Environment for one user's process only (repeatable).",
)
@click.option(
    "--header",
    "header_items",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Header sent to an HTTP upstream (repeatable; VALUE @FILE reads a file).",
)
@click.option(
    "--user-header",
    multiple=True,
    metavar="'USER:NAME: VALUE'",
    help="Header sent to the HTTP upstream for one user only (repeatable).",
)
@click.option(
    "--max-processes",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="At most this many upstream processes (one per user) at once.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0.1),
    default=600.0,
    show_default=True,
    help="Seconds without a request before a user's upstream process is stopped.",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True),
    help="Working folder of the upstream command.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def gateway(  # click passes every option by name
    *,
    command: tuple[str, ...],
    upstream: str | None,
    env_pairs: tuple[str, ...],
    user_env: tuple[str, ...],
    header_items: tuple[str, ...],
    user_header: tuple[str, ...],
    max_processes: int,
    idle_timeout: float,
    cwd: str | None,
    policy: Path | None,
    trust_issuer: str | None,
    introspection: bool,
    client_id: str | None,
    client_secret_file: Path | None,
    allow_http_loopback_issuer: bool,
    allowed_origins: tuple[str, ...],
    **options: Any,
) -> None:
    """Put OAuth in front of an MCP server: ostiary gateway -- COMMAND ARGS…, or --upstream URL."""
    if bool(command) == bool(upstream):
        raise click.UsageError("give either a stdio command after -- or --upstream URL")
    if upstream is not None and not upstream.startswith(("http://", "https://")):
        raise click.UsageError("--upstream must be an http:// or https:// URL")
    if upstream is None and (header_items or user_header):
        raise click.UsageError("--header and --user-header are for an HTTP --upstream")
    if upstream is not None and (env_pairs or user_env):
        raise click.UsageError("--env and --user-env are for a stdio command")
    target = Upstream(
        command=command,
        url=upstream,
        env=parse_env(env_pairs),
        user_env=per_user(user_env, "--user-env", parse_env),
        headers=parse_headers(header_items),
        user_headers=per_user(user_header, "--user-header", parse_headers),
        max_processes=max_processes,
        idle_timeout=idle_timeout,
        cwd=cwd,
    )
    mcp = McpOptions(
        None,
        policy,
        trust_issuer,
        introspection,
        client_id,
        client_secret_file,
        allow_http_loopback_issuer,
        allowed_origins,
    )
    settings = make_settings(**options)
    configure_logging(settings)
    # the upstream's stderr and its starts and stops are always shown
    logging.getLogger("ostiary.gateway.upstream").setLevel(logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_gateway(settings, mcp, target))
