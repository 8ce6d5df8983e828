"""``ostiary user``: add, list, passwd, remove, against a SQLite file in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.crypto.passwords import verify_password
from ostiary.storage.protocols import Storage

from .helpers import assert_one_line_error, invoke, read_store

PASSWORD = "first-password-123"
NEW_PASSWORD = "second password, with spaces: 456"


def add_user(runner: CliRunner, name: str = "bob", password: str = PASSWORD) -> None:
    result = invoke(runner, "user", "add", name, "--password-stdin", input=f"{password}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"added user {name}\n"


def password_hash_of(data_dir: Path, name: str) -> str:
    async def query(storage: Storage) -> str:
        user = await storage.get_user_by_name(name)
        assert user is not None, name
        return user.password_hash

    return read_store(data_dir, query)


def user_names(data_dir: Path) -> list[str]:
    async def query(storage: Storage) -> list[str]:
        return [u.username for u in await storage.list_users()]

    return read_store(data_dir, query)


def test_add_stores_an_argon2id_hash_of_the_password(runner: CliRunner, data_dir: Path) -> None:
    add_user(runner)

    stored = password_hash_of(data_dir, "bob")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "x")
    assert (data_dir / "ostiary.sqlite3").is_file()


def test_add_with_the_data_dir_option(runner: CliRunner, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"

    result = invoke(
        runner,
        "user",
        "add",
        "carol",
        "--password-stdin",
        "--data-dir",
        str(elsewhere),
        input=f"{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert user_names(elsewhere) == ["carol"]


def test_the_password_keeps_everything_but_the_line_ending(
    runner: CliRunner, data_dir: Path
) -> None:
    add_user(runner, password="  spaces around  ")

    assert verify_password(password_hash_of(data_dir, "bob"), "  spaces around  ")


def test_duplicate_user_is_a_one_line_error(runner: CliRunner, data_dir: Path) -> None:
    add_user(runner)
    before = password_hash_of(data_dir, "bob")

    result = invoke(runner, "user", "add", "bob", "--password-stdin", input="other-password\n")

    assert_one_line_error(result, 1, "user 'bob' already exists")
    assert password_hash_of(data_dir, "bob") == before


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_short_password_is_refused(runner: CliRunner, data_dir: Path, password: str) -> None:
    result = invoke(runner, "user", "add", "bob", "--password-stdin", input=f"{password}\n")

    assert_one_line_error(result, 1, "password must be at least 8 characters")
    assert user_names(data_dir) == []


@pytest.mark.parametrize("name", ["two words", "tab\tname", "x" * 151])
def test_bad_username_is_refused(runner: CliRunner, data_dir: Path, name: str) -> None:
    result = invoke(runner, "user", "add", name, "--password-stdin", input=f"{PASSWORD}\n")

    assert_one_line_error(result, 1, "username must be 1-150 printable characters")
    assert user_names(data_dir) == []


def test_list_shows_every_user(runner: CliRunner) -> None:
    add_user(runner, "bob")
    add_user(runner, "alice")

    result = invoke(runner, "user", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["alice", "bob"]
    assert all(line.endswith(" UTC") and "\tcreated " in line for line in lines)


def test_list_of_an_empty_store_prints_nothing(runner: CliRunner) -> None:
    result = invoke(runner, "user", "list")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_passwd_sets_a_password_that_then_verifies(runner: CliRunner, data_dir: Path) -> None:
    add_user(runner)

    result = invoke(runner, "user", "passwd", "bob", "--password-stdin", input=f"{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == "password changed for bob\n"
    stored = password_hash_of(data_dir, "bob")
    assert verify_password(stored, NEW_PASSWORD)
    assert not verify_password(stored, PASSWORD)


def test_passwd_refuses_a_short_password_and_keeps_the_old_one(
    runner: CliRunner, data_dir: Path
) -> None:
    add_user(runner)

    result = invoke(runner, "user", "passwd", "bob", "--password-stdin", input="short\n")

    assert_one_line_error(result, 1, "password must be at least 8 characters")
    assert verify_password(password_hash_of(data_dir, "bob"), PASSWORD)


def test_passwd_for_an_unknown_user(runner: CliRunner) -> None:
    result = invoke(runner, "user", "passwd", "nobody", "--password-stdin", input=f"{PASSWORD}\n")

    assert_one_line_error(result, 1, "no user named 'nobody'")


def test_passwd_prompts_twice_without_stdin(runner: CliRunner, data_dir: Path) -> None:
    add_user(runner)

    mismatch = invoke(runner, "user", "passwd", "bob", input=f"{NEW_PASSWORD}\nother-one\n")
    assert mismatch.exit_code != 0
    assert verify_password(password_hash_of(data_dir, "bob"), PASSWORD)

    result = invoke(runner, "user", "passwd", "bob", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output  # hidden input is never echoed
    assert verify_password(password_hash_of(data_dir, "bob"), NEW_PASSWORD)


def test_remove(runner: CliRunner, data_dir: Path) -> None:
    add_user(runner, "bob")
    add_user(runner, "alice")

    result = invoke(runner, "user", "remove", "bob")

    assert result.exit_code == 0, result.output
    assert result.stdout == "removed user bob\n"
    assert user_names(data_dir) == ["alice"]


def test_remove_an_unknown_user(runner: CliRunner) -> None:
    result = invoke(runner, "user", "remove", "nobody")

    assert_one_line_error(result, 1, "no user named 'nobody'")
