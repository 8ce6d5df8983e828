"""What every command shares: settings from options, and opening the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from ostiary.cli.errors import CliError, StoreUnavailable
from ostiary.crypto.server_secret import SecretFileError, ServerKeys, load_or_create_secret
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.policy_file import PolicyFileError, load_policy
from ostiary.server.settings import AuthServerSettings
from ostiary.storage.protocols import Storage

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def store_options(func: F) -> F:
    """``--data-dir``, ``--database`` and ``--secret-file`` (also ``OSTIARY_*``)."""
    func = click.option(
        "--secret-file",
        type=click.Path(path_type=Path),
        help="Server secret file [OSTIARY_SECRET_FILE].",
    )(func)
    func = click.option(
        "--database", help="sqlite:///PATH or postgresql+asyncpg://... [OSTIARY_DATABASE]."
    )(func)
    func = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        help="Folder for the SQLite file and secret [OSTIARY_DATA_DIR].",
    )(func)
    return func


def policy_file(path: Path) -> ScopePolicy:
    """``--policy FILE``: the scope policy it holds, or one clear error line."""
    try:
        return load_policy(path)
    except PolicyFileError as exc:  # names the file and the first problem
        raise CliError(f"--policy {path}: {exc}") from None


def make_settings(**given: Any) -> AuthServerSettings:
    """Options given on the command line win; the rest come from ``OSTIARY_*`` or defaults."""
    try:
        return AuthServerSettings(**{k: v for k, v in given.items() if v not in (None, ())})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise CliError(f"invalid {field.replace('_', '-')}: {message}") from None


def server_keys(settings: AuthServerSettings) -> ServerKeys:
    try:
        return ServerKeys.from_secret(load_or_create_secret(settings.secret_path))
    except (SecretFileError, OSError) as exc:
        raise StoreUnavailable(str(exc)) from None


@asynccontextmanager
async def opened_storage(settings: AuthServerSettings) -> AsyncIterator[Storage]:
    from ostiary.storage.sql import open_storage

    if settings.database is None:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create data folder {settings.data_dir}: {exc}"
            ) from None
    try:
        storage = await open_storage(settings.database_url)
    except ValueError as exc:
        raise StoreUnavailable(f"--database: {_first_line(exc)}") from None
    except Exception as exc:
        raise StoreUnavailable(
            f"cannot open database {settings.database_url}: {_first_line(exc)}"
        ) from None
    try:
        yield storage
    finally:
        await storage.close()


def _first_line(exc: Exception) -> str:
    """Errors are one line; SQLAlchemy appends a "(Background on this error ...)" line."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_storage(func: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Turn ``async def cmd(storage, settings, **options)`` into a click callback."""

    @wraps(func)
    def wrapper(
        data_dir: Path | None, database: str | None, secret_file: Path | None, **options: Any
    ) -> None:
        settings = make_settings(data_dir=data_dir, database=database, secret_file=secret_file)

        async def main() -> None:
            async with opened_storage(settings) as storage:
                await func(storage, settings, **options)

        run(main())

    return wrapper
