"""``ostiary key``: rotating the signing keys and listing them with their publication state."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.core.clock import SystemClock
from ostiary.core.models import SigningKey
from ostiary.crypto.keys import generate_signing_key, load_signing_key
from ostiary.server.keyring import KeyPolicy, KeyRing
from ostiary.storage.protocols import Storage

from .helpers import assert_one_line_error, invoke, read_store, server_keys

CURRENT_LINE = re.compile(r"^current key: ([A-Za-z0-9_-]{16}) \((\w+)\)$", re.MULTILINE)
RETIRED_LINE = re.compile(
    r"^retired key: ([A-Za-z0-9_-]{16}) \(published until (\S+)\)$", re.MULTILINE
)


def stored_keys(data_dir: Path) -> list[SigningKey]:
    async def query(storage: Storage) -> list[SigningKey]:
        return await storage.list_signing_keys()

    return read_store(data_dir, query)


def rotate(runner: CliRunner, *args: str) -> tuple[str, str, list[tuple[str, str]]]:
    """``key rotate ARGS``; returns (new kid, its alg, [(retired kid, published until)])."""
    result = invoke(runner, "key", "rotate", *args)
    assert result.exit_code == 0, result.output
    current = CURRENT_LINE.search(result.stdout)
    assert current is not None, result.stdout
    assert "signs with the new key within" in result.stderr
    return current.group(1), current.group(2), RETIRED_LINE.findall(result.stdout)


def with_env(runner: CliRunner, env: dict[str, str]) -> CliRunner:
    return CliRunner(env={**runner.env, **env})


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rotate_makes_a_new_key_current_and_retires_the_old_one(
    runner: CliRunner, data_dir: Path
) -> None:
    first, alg, retired = rotate(runner)
    assert (alg, retired) == ("ES256", [])
    second, _, retired = rotate(runner)
    assert second != first
    [(retired_kid, until)] = retired
    assert retired_kid == first
    keys = {k.kid: k for k in stored_keys(data_dir)}
    assert set(keys) == {first, second}
    assert keys[second].retired_at is None
    retired_at = keys[first].retired_at
    assert retired_at is not None
    assert until == iso(retired_at + 30 + 3600 + 60)  # reload interval + TTL + leeway
    # the new key is sealed under the server secret: a server can load it
    loaded = load_signing_key(keys[second], server_keys(data_dir).key_encryption)
    assert loaded.kid == second


def test_a_server_started_after_a_rotation_signs_with_the_new_key(
    runner: CliRunner, data_dir: Path
) -> None:
    old, _, _ = rotate(runner)
    new, _, _ = rotate(runner)
    encryption_key = server_keys(data_dir).key_encryption

    async def start(storage: Storage) -> tuple[str, set[str]]:
        ring = KeyRing(storage, encryption_key, SystemClock(), KeyPolicy())
        await ring.load()
        return ring.kid, {k["kid"] for k in ring.jwks["keys"]}

    assert read_store(data_dir, start) == (new, {old, new})


@pytest.mark.parametrize(
    ("args", "env", "alg"),
    [
        pytest.param(("--alg", "RS256"), {}, "RS256", id="option"),
        pytest.param(("--alg", "EdDSA"), {}, "Ed25519", id="EdDSA-is-Ed25519"),
        pytest.param((), {"OSTIARY_SIGNING_ALG": "Ed25519"}, "Ed25519", id="environment"),
        pytest.param(
            ("--alg", "ES256"), {"OSTIARY_SIGNING_ALG": "RS256"}, "ES256", id="option-wins"
        ),
    ],
)
def test_rotate_with_another_algorithm(
    runner: CliRunner, data_dir: Path, args: tuple[str, ...], env: dict[str, str], alg: str
) -> None:
    kid, shown, _ = rotate(with_env(runner, env), *args)
    assert shown == alg
    [record] = stored_keys(data_dir)
    assert (record.kid, record.alg, record.public_jwk["alg"]) == (kid, alg, alg)


def test_rotate_refuses_an_unknown_algorithm(runner: CliRunner, data_dir: Path) -> None:
    result = invoke(runner, "key", "rotate", "--alg", "HS256")
    assert result.exit_code == 2
    assert "'HS256' is not one of" in result.stderr
    result = invoke(with_env(runner, {"OSTIARY_SIGNING_ALG": "none"}), "key", "rotate")
    assert_one_line_error(result, 1, "invalid signing-alg: unsupported signing algorithm none")
    assert not (data_dir / "ostiary.sqlite3").exists() or stored_keys(data_dir) == []


def test_list_shows_each_key_with_its_state(runner: CliRunner, data_dir: Path) -> None:
    runner = with_env(
        runner,
        {
            "OSTIARY_ACCESS_TOKEN_TTL": "300",
            "OSTIARY_KEY_RELOAD_INTERVAL": "5",
            "OSTIARY_KEY_PUBLICATION_LEEWAY": "10",
        },
    )
    encryption_key = server_keys(data_dir).key_encryption
    long_ago = generate_signing_key(encryption_key, now=1_600_000_000)

    async def save(storage: Storage) -> None:
        await storage.save_signing_key(replace(long_ago, retired_at=1_600_000_100))

    read_store(data_dir, save)
    old, _, _ = rotate(runner)
    new, _, _ = rotate(runner, "--alg", "RS256")
    retired_at = {k.kid: k.retired_at for k in stored_keys(data_dir)}[old]
    assert retired_at is not None

    result = invoke(runner, "key", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{long_ago.kid}\tES256\t2020-09-13T12:26:40Z\texpired"  # oldest first
    rows = {row[0]: row[1:] for row in (line.split("\t") for line in lines)}
    assert len(lines) == len(rows) == 3
    # old and new were created in the same second or one apart: their order is not asserted
    assert rows[old][0] == "ES256"
    assert rows[old][2] == f"retired, published until {iso(retired_at + 5 + 300 + 10)}"
    assert rows[new][0] == "RS256"
    assert rows[new][2] == "current"


def test_list_on_an_empty_store_prints_nothing(runner: CliRunner) -> None:
    result = invoke(runner, "key", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_the_key_commands_are_listed(runner: CliRunner) -> None:
    result = invoke(runner, "key", "--help")
    assert result.exit_code == 0
    assert "rotate" in result.stdout
    assert "list" in result.stdout
