"""``ostiary gateway``'s own option checks: one clear line, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.cli.errors import CliError
from ostiary.cli.gateway import parse_env, parse_headers, per_user

from .helpers import invoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either a stdio command after -- or --upstream URL"),
        (["--upstream", "http://h/mcp", "--", "server"], "either a stdio command"),
        (["--upstream", "ftp://h/mcp"], "--upstream must be an http:// or https:// URL"),
        (["--header", "A: b", "--", "server"], "--header and --user-header are for an HTTP"),
        (["--upstream", "http://h/mcp", "--env", "A=b"], "--env and --user-env are for a stdio"),
        (["--max-processes", "0", "--", "server"], "--max-processes"),
        (["--allowed-origin", "app.example", "--", "server"], "an origin is http(s)://host[:port]"),
        (["--allowed-origin", "https://app.example/x", "--", "server"], "has no path"),
    ],
)
def test_usage_mistakes(runner: CliRunner, args: list[str], message: str) -> None:
    result = invoke(runner, "gateway", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_environment_and_headers_read_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    assert parse_env(["A=1", f"KEY=@{secret}", "EMPTY="]) == {
        "A": "1",
        "KEY": "s3cret",
        "EMPTY": "",
    }
    assert parse_headers([f"X-Key: @{secret}", "X-Plain:  v "]) == {
        "X-Key": "s3cret",
        "X-Plain": "v",
    }
    assert per_user(["alice:A=1", "bob:A=2", "alice:B=3"], "--user-env", parse_env) == {
        "alice": {"A": "1", "B": "3"},
        "bob": {"A": "2"},
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_env(["NOEQUALS"]), "--env NOEQUALS: expected NAME=VALUE"),
        (lambda: parse_env(["=x"]), "expected NAME=VALUE"),
        (lambda: parse_env(["K=@/nonexistent/file"]), "--env: cannot read /nonexistent/file"),
        (lambda: parse_headers(["no colon"]), "expected 'Name: value'"),
        (lambda: parse_headers(["Host: evil"]), "Host is set by the gateway itself"),
        (lambda: per_user(["nouser"], "--user-env", parse_env), "--user-env nouser: expected USER"),
    ],
)
def test_bad_values_are_one_clear_error(call: object, message: str) -> None:
    with pytest.raises(CliError, match=message.replace("(", r"\(")):
        call()  # type: ignore[operator]
