"""Running ``ostiary`` in-process, and reading what it stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from click.testing import CliRunner, Result

from ostiary.cli.main import cli
from ostiary.crypto.server_secret import ServerKeys, load_or_create_secret
from ostiary.storage.protocols import Storage
from ostiary.storage.sql import open_storage

T = TypeVar("T")


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    """Run ``ostiary ARGS``; exceptions become a non-zero exit, as in the real command."""
    return runner.invoke(cli, list(args), input=input, catch_exceptions=True)


def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'ostiary.sqlite3'}"


def read_store(data_dir: Path, query: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the CLI's SQLite store directly and run one query against it."""

    async def main() -> T:
        storage = await open_storage(database_url(data_dir))
        try:
            return await query(storage)
        finally:
            await storage.close()

    return asyncio.run(main())


def server_keys(data_dir: Path) -> ServerKeys:
    return ServerKeys.from_secret(load_or_create_secret(data_dir / "ostiary.secret"))


def assert_one_line_error(result: Result, exit_code: int, message: str) -> None:
    """A clean failure: the exit code, one ``Error:`` line on stderr, no traceback."""
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
