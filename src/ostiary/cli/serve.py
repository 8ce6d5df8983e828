"""``ostiary serve``: the authorization server, with a protected MCP endpoint at ``/mcp``.

By default ``/mcp`` serves the demo notes server (``ostiary.demo.notes``); ``--app
module:attribute`` serves the user's own MCP app (an ASGI app, or an SDK ``MCPServer``) and
``--policy FILE`` its TOML scope policy. ``--trust-issuer URL`` runs a resource server only:
no authorization server routes, tokens from ``URL`` verified by JWKS or ``--introspection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn
from starlette.types import ASGIApp

from ostiary.cli.common import (
    make_settings,
    opened_storage,
    policy_file,
    server_keys,
    store_options,
)
from ostiary.cli.errors import CliError
from ostiary.cli.users import create_user
from ostiary.demo import notes
from ostiary.resource.middleware import Denied, ProtectedMCP
from ostiary.resource.mount import SameOrigin
from ostiary.resource.origins import parse_origin, with_own_origin
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.tokens import TokenVerifier
from ostiary.resource.verifiers import IntrospectionVerifier, JwksVerifier, LocalVerifier
from ostiary.server.app import create_app
from ostiary.server.context import ServerContext, build_context
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
        f"  mcp:       {settings.resources[0]}",
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


@dataclass(frozen=True)
class McpOptions:
    """What ``/mcp`` serves and whom it trusts."""

    app: str | None = None
    policy: Path | None = None
    trust_issuer: str | None = None
    introspection: bool = False
    client_id: str | None = None
    client_secret_file: Path | None = None
    allow_http_loopback_issuer: bool = False
    allowed_origins: tuple[str, ...] = ()


def load_app(spec: str) -> tuple[ASGIApp, ScopePolicy | None]:
    """``module:attribute``: an ASGI app, or an SDK ``MCPServer`` (its streamable-HTTP app)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CliError(f"--app {spec}: expected module:attribute")
    try:
        target: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"--app {spec}: {exc}") from None
    if hasattr(target, "streamable_http_app"):
        target = notes.streamable_app(target)
    if not callable(target):
        raise CliError(f"--app {spec}: not an ASGI app")
    return target, None


def mcp_app(options: McpOptions) -> tuple[ASGIApp, ScopePolicy]:
    if options.app is not None:
        app, policy = load_app(options.app)
    else:
        server, policy = notes.build()
        app = notes.streamable_app(server)
    if options.policy is not None:
        policy = policy_file(options.policy)
    return app, policy or ScopePolicy()


def configure_logging(settings: AuthServerSettings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def uvicorn_config(app: ASGIApp, settings: AuthServerSettings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )


def protect(
    app: ASGIApp,
    policy: ScopePolicy,
    verifier: TokenVerifier,
    resource: str,
    issuer: str,
    *,
    origins: Sequence[str] = (),
    name: str = "Ostiary MCP endpoint",
    on_denied: Denied | None = None,
) -> ProtectedMCP:
    return ProtectedMCP(
        app,
        verifier=verifier,
        resource=resource,
        authorization_servers=[issuer],
        policy=policy,
        resource_name=name,
        allowed_origins=with_own_origin(resource, origins),
        on_denied=on_denied,
    )


def same_origin(
    ctx: ServerContext,
    settings: AuthServerSettings,
    app: ASGIApp,
    policy: ScopePolicy,
    origins: Sequence[str] = (),
) -> ASGIApp:
    resource = settings.resources[0]
    verifier = LocalVerifier.for_server(ctx, resource)
    protected = protect(app, policy, verifier, resource, settings.issuer, origins=origins)
    return SameOrigin(protected, create_app(ctx))


async def serve_forever(settings: AuthServerSettings, options: McpOptions) -> None:
    if options.trust_issuer is not None:
        await serve_resource_only(settings, options, options.trust_issuer)
        return
    app, policy = mcp_app(options)
    keys = server_keys(settings)
    sock = listen(settings.host, settings.port)
    async with opened_storage(settings) as storage:
        password = await first_start(storage)
        ctx = await build_context(
            settings.server_config(policy.scopes_supported),
            storage,
            keys,
            templates_dir=settings.templates,
            key_policy=settings.key_policy(),
            allow_loopback_metadata=settings.allow_loopback_metadata,
        )
        if settings.allow_loopback_metadata:
            log.warning("allow_loopback_metadata is on: SSRF protection for loopback is off")
        asgi = same_origin(ctx, settings, app, policy, options.allowed_origins)
        config = uvicorn_config(asgi, settings)
        click.echo(banner(settings, password))
        sys.stdout.flush()
        await uvicorn.Server(config).serve(sockets=[sock])


def external_verifier(
    options: McpOptions, issuer: str, resource: str
) -> JwksVerifier | IntrospectionVerifier:
    loopback = options.allow_http_loopback_issuer
    if not options.introspection:
        return JwksVerifier(issuer, resource, allow_http_loopback=loopback)
    if options.client_id is None or options.client_secret_file is None:
        raise CliError("--introspection needs --client-id and --client-secret-file")
    try:
        secret = options.client_secret_file.read_text().strip()
    except OSError as exc:
        raise CliError(f"--client-secret-file: {exc.strerror or exc}") from None
    return IntrospectionVerifier(
        issuer,
        resource,
        client_id=options.client_id,
        client_secret=secret,
        allow_http_loopback=loopback,
    )


async def serve_resource_only(
    settings: AuthServerSettings, options: McpOptions, issuer: str
) -> None:
    """A resource server only: ``/mcp`` and its metadata, tokens from ``issuer``."""
    resource = settings.resources[0]
    app, policy = mcp_app(options)
    verifier = external_verifier(options, issuer, resource)
    sock = listen(settings.host, settings.port)
    try:
        protected = protect(
            app, policy, verifier, resource, issuer, origins=options.allowed_origins
        )
        config = uvicorn_config(SameOrigin(protected), settings)
        mode = "introspection" if options.introspection else "JWKS"
        click.echo(
            "\n".join(
                [
                    "Ostiary resource server",
                    f"  mcp:       {resource}",
                    f"  metadata:  {protected.resource.metadata_url}",
                    f"  trusts:    {issuer} ({mode})",
                    "",
                    "Press Ctrl+C to stop.",
                ]
            )
        )
        sys.stdout.flush()
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        await verifier.aclose()


SERVER_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--host", help="Address to listen on [OSTIARY_HOST; default 127.0.0.1]."),
    click.option("--port", type=int, help="Port [OSTIARY_PORT; default 8000]."),
    click.option(
        "--public-url", help="The issuer URL [OSTIARY_PUBLIC_URL; default http://HOST:PORT]."
    ),
    click.option("--access-token-ttl", type=int, help="Seconds [OSTIARY_ACCESS_TOKEN_TTL; 3600]."),
    click.option(
        "--refresh-token-ttl",
        type=int,
        help="Seconds, sliding [OSTIARY_REFRESH_TOKEN_TTL; 30 days].",
    ),
    click.option("--resource", multiple=True, help="Another protected resource URL (repeatable)."),
    click.option(
        "--templates",
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        help="Folder of templates overriding the built-in pages.",
    ),
    click.option(
        "--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"])
    ),
    click.option(
        "--signing-alg",
        type=click.Choice(["ES256", "RS256", "EdDSA", "Ed25519"]),
        help="Algorithm of a newly generated signing key [OSTIARY_SIGNING_ALG; ES256].",
    ),
    click.option(
        "--allow-loopback-metadata",
        is_flag=True,
        default=None,
        help="TESTS ONLY: fetch client metadata documents from loopback hosts, plain http too "
        "[OSTIARY_ALLOW_LOOPBACK_METADATA; off].",
    ),
]
POLICY_OPTION: Callable[[Any], Any] = click.option(
    "--policy",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="TOML scope policy for /mcp.",
)
TRUST_OPTIONS: list[Callable[[Any], Any]] = [
    click.option(
        "--trust-issuer", metavar="URL", help="Resource server only, trusting this issuer."
    ),
    click.option("--introspection", is_flag=True, help="With --trust-issuer: ask its /introspect."),
    click.option("--client-id", help="With --introspection: this resource server's client id."),
    click.option(
        "--client-secret-file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="With --introspection: a file holding the client secret.",
    ),
    click.option(
        "--allow-http-loopback-issuer",
        is_flag=True,
        help="TESTS ONLY: trust an issuer on a loopback host over plain http.",
    ),
]


_F = TypeVar("_F", bound=Callable[..., Any])


def server_options(function: _F) -> _F:
    """Where and how the server listens, its tokens and pages, and its store."""
    function = store_options(function)
    for option in reversed(SERVER_OPTIONS):
        function = option(function)
    return function


def policy_option(function: _F) -> _F:
    """``--policy FILE``: the TOML scope policy of ``/mcp``."""
    return POLICY_OPTION(function)  # type: ignore[no-any-return]


def origin_option(function: _F) -> _F:
    """``--allowed-origin``: browser-based clients that may call ``/mcp`` from their origin."""
    return ORIGIN_OPTION(function)  # type: ignore[no-any-return]


def allowed_origins(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    try:
        return tuple(parse_origin(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


ORIGIN_OPTION: Callable[[Any], Any] = click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    metavar="ORIGIN",
    callback=allowed_origins,
    help="A browser-based client's origin (https://app.example) that may call /mcp "
    "(repeatable); /mcp's own origin always may.",
)


def trust_options(function: _F) -> _F:
    """``--trust-issuer`` and how to verify its tokens (JWKS or introspection)."""
    for option in reversed(TRUST_OPTIONS):
        function = option(function)
    return function


@click.command("serve")
@server_options
@click.option("--app", "mcp_app", metavar="MODULE:ATTR", help="Serve this MCP app at /mcp.")
@policy_option
@origin_option
@trust_options
def serve(  # click passes every option by name
    *,
    mcp_app: str | None,
    policy: Path | None,
    trust_issuer: str | None,
    introspection: bool,
    client_id: str | None,
    client_secret_file: Path | None,
    allow_http_loopback_issuer: bool,
    allowed_origins: tuple[str, ...],
    **options: Any,
) -> None:
    """Run the authorization server and its protected /mcp endpoint (SQLite by default)."""
    mcp = McpOptions(
        mcp_app,
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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(settings, mcp))
