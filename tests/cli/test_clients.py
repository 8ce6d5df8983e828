"""``ostiary client``: registering, listing and removing OAuth clients."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.core.models import AuthMethod, Client, ClientId
from ostiary.crypto.tokens import TokenHasher
from ostiary.storage.protocols import Storage

from .helpers import assert_one_line_error, invoke, read_store, server_keys

CLIENT_ID_LINE = re.compile(r"^client_id: ([A-Za-z0-9_-]{16,})$", re.MULTILINE)
SECRET_LINE = re.compile(r"^client_secret: ([A-Za-z0-9_-]{32,})$", re.MULTILINE)


def clients(data_dir: Path) -> list[Client]:
    async def query(storage: Storage) -> list[Client]:
        return await storage.list_clients()

    return read_store(data_dir, query)


def add_client(runner: CliRunner, *args: str) -> tuple[str, str | None, str]:
    """``client add ARGS``; returns (client_id, secret or None, stdout)."""
    result = invoke(runner, "client", "add", *args)
    assert result.exit_code == 0, result.output
    client_id = CLIENT_ID_LINE.search(result.stdout)
    assert client_id is not None, result.stdout
    secret = SECRET_LINE.search(result.stdout)
    return client_id.group(1), secret.group(1) if secret else None, result.stdout


def test_add_a_public_client(runner: CliRunner, data_dir: Path) -> None:
    client_id, secret, out = add_client(
        runner,
        "--name",
        "  Claude Desktop  ",
        "--redirect-uri",
        "http://127.0.0.1:33418/callback",
        "--redirect-uri",
        "https://app.example.com/cb?tenant=1",
    )

    assert secret is None
    assert out == f"client_id: {client_id}\n"
    (client,) = clients(data_dir)
    assert client.client_id == client_id
    assert client.client_name == "Claude Desktop"
    assert client.redirect_uris == (
        "http://127.0.0.1:33418/callback",
        "https://app.example.com/cb?tenant=1",
    )
    assert client.token_endpoint_auth_method is AuthMethod.NONE
    assert client.secret_hash is None
    assert client.scope is None  # every supported scope


def test_add_a_confidential_client_prints_its_secret_once(
    runner: CliRunner, data_dir: Path
) -> None:
    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "Backend",
        "--redirect-uri",
        "https://service.example.com/cb",
        "--confidential",
    )

    assert result.exit_code == 0, result.output
    client_id = CLIENT_ID_LINE.search(result.stdout)
    secret = SECRET_LINE.search(result.stdout)
    assert client_id is not None
    assert secret is not None
    assert "shown only now" in result.stderr  # the notice is not part of the parseable output
    (client,) = clients(data_dir)
    assert client.client_id == client_id.group(1)
    assert client.token_endpoint_auth_method is AuthMethod.CLIENT_SECRET_BASIC
    assert client.secret_hash is not None
    assert secret.group(1) not in client.secret_hash
    # Stored as the server's keyed hash, which is what the token endpoint compares against.
    hasher = TokenHasher(server_keys(data_dir).token_hashing)
    assert client.secret_hash == hasher.hash(secret.group(1))
    listing = invoke(runner, "client", "list")
    assert secret.group(1) not in listing.output


def test_each_client_gets_its_own_id_and_secret(runner: CliRunner) -> None:
    args = ("--name", "App", "--redirect-uri", "https://a.example/cb", "--confidential")
    first, second = add_client(runner, *args), add_client(runner, *args)

    assert first[0] != second[0]
    assert first[1] != second[1]


def test_add_with_scopes(runner: CliRunner, data_dir: Path) -> None:
    add_client(
        runner,
        "--name",
        "Reader",
        "--redirect-uri",
        "https://a.example/cb",
        "--scope",
        "tools:read resources:read",
    )

    (client,) = clients(data_dir)
    assert client.scope == frozenset({"tools:read", "resources:read"})


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("javascript:alert(1)", "must be https, or http on a loopback address"),
        ("http://example.com/cb", "must be https, or http on a loopback address"),
        ("https://a/cb#frag", "must not have a fragment"),
        ("https://*.a/cb", "contains forbidden characters"),
        ("https://a/c b", "contains forbidden characters"),
        ("/relative/cb", "must be https, or http on a loopback address"),
        ("https://user@a/cb", "must be https, or http on a loopback address"),
    ],
)
def test_bad_redirect_uri_is_refused(
    runner: CliRunner, data_dir: Path, uri: str, message: str
) -> None:
    result = invoke(runner, "client", "add", "--name", "Bad", "--redirect-uri", uri)

    assert_one_line_error(result, 1, f"--redirect-uri: redirect URI {message}")
    assert clients(data_dir) == []


def test_one_bad_redirect_uri_among_good_ones_is_refused(runner: CliRunner, data_dir: Path) -> None:
    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "Mixed",
        "--redirect-uri",
        "https://good.example/cb",
        "--redirect-uri",
        "http://evil.example/cb",
    )

    assert_one_line_error(result, 1, "--redirect-uri:")
    assert clients(data_dir) == []


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("tools:read admin", "unknown scope admin; known: tools:read tools:execute"),
        ("everything", "unknown scope everything"),
        ("tools:read  tools:execute", "--scope must be space-separated scope names"),
    ],
)
def test_unknown_scope_is_refused(
    runner: CliRunner, data_dir: Path, scope: str, message: str
) -> None:
    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "X",
        "--redirect-uri",
        "https://a.example/cb",
        "--scope",
        scope,
    )

    assert_one_line_error(result, 1, message)
    assert clients(data_dir) == []


def test_the_servers_policy_makes_its_own_scopes_known(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[tools]\nhello = ["greetings:send"]\n')
    add = ["client", "add", "--name", "X", "--redirect-uri", "https://a.example/cb"]
    without = invoke(runner, *add, "--scope", "tools:execute greetings:send")
    assert_one_line_error(without, 1, "unknown scope greetings:send")
    assert "add --policy FILE" in without.output
    added = invoke(runner, *add, "--scope", "tools:execute greetings:send", "--policy", str(policy))
    assert added.exit_code == 0, added.output
    (client,) = clients(data_dir)
    assert client.scope == frozenset({"tools:execute", "greetings:send"})
    typo = invoke(runner, *add, "--scope", "greetings:sned", "--policy", str(policy))
    assert_one_line_error(typo, 1, "unknown scope greetings:sned; known: ")
    assert "greetings:send" in typo.output


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
def test_bad_name_is_refused(runner: CliRunner, data_dir: Path, name: str) -> None:
    result = invoke(
        runner, "client", "add", "--name", name, "--redirect-uri", "https://a.example/cb"
    )

    assert_one_line_error(result, 1, "--name must be 1-200 characters")
    assert clients(data_dir) == []


def test_a_redirect_uri_is_required(runner: CliRunner) -> None:
    result = invoke(runner, "client", "add", "--name", "X")

    assert result.exit_code == 2  # click's usage error
    assert "--redirect-uri" in result.stderr
    assert "Traceback" not in result.output


def test_list(runner: CliRunner) -> None:
    public, _, _ = add_client(runner, "--name", "Desktop", "--redirect-uri", "http://localhost/cb")
    private, _, _ = add_client(
        runner,
        "--name",
        "Service",
        "--redirect-uri",
        "https://s.example/a",
        "--redirect-uri",
        "https://s.example/b",
        "--confidential",
    )

    result = invoke(runner, "client", "list")

    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"{public}\tDesktop\tpublic\thttp://localhost/cb",
            f"{private}\tService\tconfidential (client_secret_basic)\t"
            "https://s.example/a https://s.example/b",
        ]
    )


def test_remove(runner: CliRunner, data_dir: Path) -> None:
    gone, _, _ = add_client(runner, "--name", "Gone", "--redirect-uri", "https://a.example/cb")
    kept, _, _ = add_client(runner, "--name", "Kept", "--redirect-uri", "https://b.example/cb")

    result = invoke(runner, "client", "remove", gone)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"removed client {gone}\n"
    assert [c.client_id for c in clients(data_dir)] == [ClientId(kept)]
    again = invoke(runner, "client", "remove", gone)
    assert_one_line_error(again, 1, f"no client {gone!r}")


def test_remove_an_unknown_client(runner: CliRunner) -> None:
    result = invoke(runner, "client", "remove", "no-such-client")

    assert_one_line_error(result, 1, "no client 'no-such-client'")


def test_confidential_client_can_choose_client_secret_post(runner: CliRunner) -> None:
    client_id, secret, _ = add_client(
        runner, "--name", "Poster", "--redirect-uri", "https://a.example/cb",
        "--confidential", "--auth-method", "client_secret_post",
    )  # fmt: skip
    assert secret
    listed = invoke(runner, "client", "list")
    assert f"{client_id}\tPoster\tconfidential (client_secret_post)\t" in listed.stdout
