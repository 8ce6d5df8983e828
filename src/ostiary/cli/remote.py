"""What the client commands share: their options, building an ``OAuthClient``, running it.

Every command that talks to a remote MCP server takes the same options (the URL first).
Credentials a person configures (``--client-id`` with ``--client-secret-file``) are used
before any registration; ``--client-metadata-url`` offers a client ID metadata document.
``--browser follow`` is for authorization servers that approve without a person (test
rigs): the URL is fetched and its redirects followed into the loopback listener.
``--id-token-file`` (SEP-990) trades an enterprise identity provider's ID token for tokens.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from ostiary.cli.errors import CliError
from ostiary.client.browser import HttpFollower, Opener, PrintOnly, SystemBrowser
from ostiary.client.enterprise import IdentityAssertion
from ostiary.client.errors import ClientError
from ostiary.client.oauth import ClientOptions, OAuthClient
from ostiary.client.registration import ClientProfile, PreRegistered
from ostiary.client.store import CredentialStore, default_store

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def client_options(func: F) -> F:
    """The options of every command that signs in to a remote MCP server."""
    options = [
        click.option("--scope", help="Ask for exactly these scopes (space-separated)."),
        click.option(
            "--no-browser",
            is_flag=True,
            help="Print the sign-in URL instead of opening a browser; paste the final URL back.",
        ),
        click.option(
            "--browser",
            type=click.Choice(["system", "follow"]),
            default="system",
            show_default=True,
            help="follow: fetch the sign-in URL and follow its redirects (servers that "
            "approve without a person).",
        ),
        click.option("--client-id", help="A client registered in advance at the server."),
        click.option(
            "--client-secret-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="File holding that client's secret.",
        ),
        click.option(
            "--client-key-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="PEM private key of that client: private_key_jwt instead of a secret.",
        ),
        click.option(
            "--client-key-alg",
            type=click.Choice(["ES256", "RS256", "EdDSA"]),
            default="ES256",
            show_default=True,
            help="Signing algorithm for --client-key-file.",
        ),
        click.option(
            "--client-metadata-url",
            help="https URL of this client's metadata document (used as client_id when the "
            "server supports it).",
        ),
        click.option(
            "--client-credentials",
            is_flag=True,
            help="No person: client_credentials grant with --client-id.",
        ),
        click.option(
            "--id-token-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="ID token from the enterprise identity provider: no browser, exchanged there "
            "for an identity assertion grant (needs --idp-token-endpoint, --idp-client-id).",
        ),
        click.option("--idp-token-endpoint", help="Token endpoint of that identity provider."),
        click.option("--idp-client-id", help="This client's ID at that identity provider."),
        click.option(
            "--idp-client-secret-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="File holding this client's secret at that identity provider.",
        ),
        click.option(
            "--callback-port", type=click.IntRange(0, 65535), default=0, help="Loopback port."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_client(
    url: str, given: dict[str, Any], store: CredentialStore | None = None
) -> OAuthClient:
    secret = _read(given, "client_secret_file")
    key = _read(given, "client_key_file")
    pre_registered: tuple[PreRegistered, ...] = ()
    if given.get("client_id"):
        credential = PreRegistered(client_id=given["client_id"], client_secret=secret)
        if key is not None:
            credential = PreRegistered(
                client_id=given["client_id"],
                token_endpoint_auth_method="private_key_jwt",
                private_key_pem=key,
                signing_alg=given.get("client_key_alg") or "ES256",
            )
        pre_registered = (credential,)
    elif secret is not None or key is not None:
        raise CliError("--client-secret-file and --client-key-file need --client-id")
    if given.get("client_credentials") and not pre_registered:
        raise CliError("--client-credentials needs --client-id (and usually a secret)")
    profile = ClientProfile(
        client_name="Ostiary",
        client_metadata_url=given.get("client_metadata_url"),
        pre_registered=pre_registered,
    )
    opener: Opener
    if given.get("browser") == "follow":
        opener = HttpFollower()
    elif given.get("no_browser"):
        opener = PrintOnly(sys.stderr)
    else:
        opener = SystemBrowser()
    options = ClientOptions(
        scope=given.get("scope"),
        machine=bool(given.get("client_credentials")),
        callback_port=int(given.get("callback_port") or 0),
        paste=bool(given.get("no_browser")),
        identity=_identity(given),
    )
    try:
        chosen = store or default_store()
    except ClientError as exc:
        raise CliError(str(exc)) from None
    return OAuthClient(
        url, store=chosen, profile=profile, opener=opener, options=options, progress=_progress
    )


def _progress(message: str) -> None:
    """Progress for people, on stderr: stdout carries results (and the bridge's MCP stream)."""
    click.echo(message, err=True)


def _identity(given: dict[str, Any]) -> IdentityAssertion | None:
    """The enterprise identity provider's ID token and where to exchange it, if given."""
    id_token = _read(given, "id_token_file")
    if id_token is None:
        if any(given.get(name) for name in ("idp_token_endpoint", "idp_client_id")):
            raise CliError("--idp-token-endpoint and --idp-client-id need --id-token-file")
        if given.get("idp_client_secret_file") is not None:
            raise CliError("--idp-client-secret-file needs --id-token-file")
        return None
    if not given.get("idp_token_endpoint") or not given.get("idp_client_id"):
        raise CliError("--id-token-file needs --idp-token-endpoint and --idp-client-id")
    return IdentityAssertion(
        idp_token_endpoint=given["idp_token_endpoint"],
        idp_client_id=given["idp_client_id"],
        id_token=id_token,
        idp_client_secret=_read(given, "idp_client_secret_file"),
    )


def _read(given: dict[str, Any], option: str) -> str | None:
    """The stripped content of the file named by ``option``, if given."""
    if given.get(option) is None:
        return None
    try:
        return Path(given[option]).read_text().strip()
    except OSError as exc:
        flag = "--" + option.replace("_", "-")
        raise CliError(f"{flag}: {exc.strerror or exc}") from None


def run_client(main: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run ``main`` (a coroutine function) to completion; client errors become one clear line."""

    @wraps(main)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(main(*args, **kwargs))
        except ClientError as exc:
            raise CliError(str(exc)) from None
        except BaseExceptionGroup as group:  # raised inside the MCP session's task groups
            found = first_client_error(group)
            if found is None:
                raise
            raise CliError(str(found)) from None

    return run


def first_client_error(group: BaseExceptionGroup[BaseException]) -> ClientError | None:
    """The first ``ClientError`` inside ``group`` (task groups nest them)."""
    for exc in group.exceptions:
        if isinstance(exc, ClientError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = first_client_error(exc)
            if found is not None:
                return found
    return None


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """Print ``data`` as JSON for programs or as ``text(data)`` for people."""
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text(data))


async def closing(client: OAuthClient, work: Awaitable[T]) -> T:
    try:
        return await work
    finally:
        await client.aclose()
