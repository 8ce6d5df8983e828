"""The client commands' own input checks and error lines (no server needed for these)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.cli.errors import CliError
from ostiary.cli.mcp_calls import parse_arguments
from ostiary.cli.remote import first_client_error
from ostiary.client.errors import StepUpLimit

from .helpers import assert_one_line_error, invoke

URL = "http://127.0.0.1:9/mcp"


@pytest.fixture
def client_runner(runner: CliRunner, tmp_path: Path) -> CliRunner:
    env = {**runner.env, "OSTIARY_CLIENT_STORE": "file"}
    return CliRunner(env=env | {"OSTIARY_CLIENT_DIR": str(tmp_path / "client")})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client-secret-file", "{secret}"], "need --client-id"),
        (["--client-credentials"], "--client-credentials needs --client-id"),
        (["--client-id", "c", "--client-secret-file", "{missing}"], "--client-secret-file: "),
        (["--id-token-file", "{secret}"], "--idp-token-endpoint"),
    ],
)
def test_option_mistakes_are_one_clear_line(
    client_runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    given = [a.format(secret=secret, missing=tmp_path / "nope") for a in args]
    result = invoke(client_runner, "token", URL, *given)
    assert_one_line_error(result, 1, message)
    assert "s3cret" not in result.output


def test_status_without_sessions(client_runner: CliRunner) -> None:
    result = invoke(client_runner, "status")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "No sessions."
    result = invoke(client_runner, "status", "--json")
    assert result.stdout.strip() == "[]"


def test_an_unreachable_server_is_one_clear_line(client_runner: CliRunner) -> None:
    result = invoke(client_runner, "login", URL)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("pairs", "raw", "expected"),
    [
        ((), None, {}),
        (("a=1", "b=x", 'c={"d": [1]}', "e="), None, {"a": 1, "b": "x", "c": {"d": [1]}, "e": ""}),
        (("a=2",), '{"a": 1, "z": true}', {"a": 2, "z": True}),
        (("k=a=b",), None, {"k": "a=b"}),
    ],
)
def test_call_arguments(
    pairs: tuple[str, ...], raw: str | None, expected: dict[str, object]
) -> None:
    assert parse_arguments(pairs, raw) == expected


@pytest.mark.parametrize(
    ("pairs", "raw", "message"),
    [
        (("novalue",), None, "expected key=value"),
        (("=v",), None, "expected key=value"),
        ((), "[1]", "must be a JSON object"),
        ((), "{", "not JSON"),
    ],
)
def test_bad_call_arguments(pairs: tuple[str, ...], raw: str | None, message: str) -> None:
    with pytest.raises(CliError, match=message):
        parse_arguments(pairs, raw)


def test_the_client_error_inside_nested_task_groups_is_found() -> None:
    inner = StepUpLimit("still 403")
    group = BaseExceptionGroup("outer", [ValueError("x"), ExceptionGroup("inner", [inner])])
    assert first_client_error(group) is inner
    assert first_client_error(ExceptionGroup("none", [ValueError("y")])) is None
