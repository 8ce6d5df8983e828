"""The command itself: help, version, and how it fails when the store cannot be opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary import __version__

from .helpers import assert_one_line_error, invoke


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = invoke(runner, "--help")

    assert result.exit_code == 0
    commands = result.stdout.split("Commands:", 1)[1].split()
    for name in ("serve", "user", "client"):
        assert name in commands
    assert "OAuth 2.1" in result.stdout


@pytest.mark.parametrize(
    ("group", "subcommands"),
    [("user", ["add", "list", "passwd", "remove"]), ("client", ["add", "list", "remove"])],
)
def test_group_help_lists_its_subcommands(
    runner: CliRunner, group: str, subcommands: list[str]
) -> None:
    result = invoke(runner, group, "--help")

    assert result.exit_code == 0
    listed = [
        line.split()[0]
        for line in result.stdout.split("Commands:", 1)[1].splitlines()
        if line.strip()
    ]
    assert listed == subcommands


def test_serve_help_names_its_options(runner: CliRunner) -> None:
    result = invoke(runner, "serve", "--help")

    assert result.exit_code == 0
    for option in ("--host", "--port", "--public-url", "--data-dir", "--database"):
        assert option in result.stdout


def test_version(runner: CliRunner) -> None:
    result = invoke(runner, "--version")

    assert result.exit_code == 0
    assert result.stdout == f"ostiary, version {__version__}\n"


def test_unknown_command_is_a_usage_error(runner: CliRunner) -> None:
    result = invoke(runner, "frobnicate")

    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


@pytest.mark.parametrize("command", [["user", "list"], ["client", "list"], ["user", "remove", "x"]])
def test_an_unsupported_database_url_exits_3_with_one_line(
    runner: CliRunner, command: list[str]
) -> None:
    result = invoke(runner, *command, "--database", "nosuch://x")

    assert_one_line_error(result, 3, "--database: unsupported database URL scheme 'nosuch'")


def test_the_database_can_come_from_the_environment(tmp_path: Path) -> None:
    runner = CliRunner(env={"OSTIARY_DATABASE": "nosuch://x", "OSTIARY_DATA_DIR": str(tmp_path)})

    result = invoke(runner, "user", "list")

    assert_one_line_error(result, 3, "unsupported database URL scheme 'nosuch'")


def test_an_unopenable_sqlite_file_exits_3_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "db.sqlite3"

    result = invoke(runner, "user", "list", "--database", f"sqlite:///{missing}")

    assert_one_line_error(result, 3, f"cannot open database sqlite:///{missing}")


def test_a_data_dir_that_is_a_file_exits_3_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    result = invoke(runner, "user", "list", "--data-dir", str(not_a_folder))

    assert_one_line_error(result, 3, f"cannot create data folder {not_a_folder}")


def test_a_malformed_secret_file_exits_3_with_one_line(runner: CliRunner, data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "ostiary.secret").write_text("not hex at all\n")

    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "X",
        "--redirect-uri",
        "https://a.example/cb",
        "--confidential",
    )

    assert_one_line_error(result, 3, "cannot read server secret")


def test_the_secret_file_is_created_private(runner: CliRunner, data_dir: Path) -> None:
    result = invoke(
        runner, "client", "add", "--name", "X", "--redirect-uri", "https://a.example/cb"
    )

    assert result.exit_code == 0, result.output
    secret = data_dir / "ostiary.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(secret.read_text().strip())) == 32
