"""``ostiary client add`` for machine clients: ``--grant-type client_credentials`` and
``--auth-method private_key_jwt`` with ``--jwks-file`` or ``--jwks-uri``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from joserfc.jwk import ECKey

from ostiary.core.models import AuthMethod, Client, GrantType
from ostiary.storage.protocols import Storage

from .helpers import assert_one_line_error, invoke, read_store

CLIENT_ID_LINE = re.compile(r"^client_id: (\S+)$", re.MULTILINE)
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})


def stored(data_dir: Path) -> list[Client]:
    async def query(storage: Storage) -> list[Client]:
        return await storage.list_clients()

    return read_store(data_dir, query)


def jwks_file(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_secret_client_for_client_credentials(runner: CliRunner, data_dir: Path) -> None:
    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "Batch job",
        "--confidential",
        "--grant-type",
        "client_credentials",
    )

    assert result.exit_code == 0, result.output
    assert "client_secret: " in result.stdout
    (client,) = stored(data_dir)
    assert client.grant_types == (GrantType.CLIENT_CREDENTIALS,)
    assert client.redirect_uris == ()
    assert client.token_endpoint_auth_method is AuthMethod.CLIENT_SECRET_BASIC
    assert client.secret_hash is not None


def test_private_key_jwt_with_a_jwks_file(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    path = jwks_file(tmp_path, {"keys": [KEY.as_dict(private=False)]})
    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "Signed",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        str(path),
        "--grant-type",
        "client_credentials",
        "--grant-type",
        "client_credentials",
    )

    assert result.exit_code == 0, result.output
    assert "client_secret" not in result.output  # no secret for a key-based client
    (client,) = stored(data_dir)
    match = CLIENT_ID_LINE.search(result.stdout)
    assert match is not None and match.group(1) == client.client_id
    assert client.token_endpoint_auth_method is AuthMethod.PRIVATE_KEY_JWT
    assert client.grant_types == (GrantType.CLIENT_CREDENTIALS,)  # repeats collapse
    assert client.jwks == {"keys": [KEY.as_dict(private=False)]}
    assert client.jwks_uri is None and client.secret_hash is None


def test_private_key_jwt_with_a_jwks_uri_and_the_code_grant(
    runner: CliRunner, data_dir: Path
) -> None:
    result = invoke(
        runner,
        "client",
        "add",
        "--name",
        "Web",
        "--redirect-uri",
        "https://web.example.com/cb",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "https://web.example.com/jwks.json",
    )

    assert result.exit_code == 0, result.output
    (client,) = stored(data_dir)
    assert client.jwks_uri == "https://web.example.com/jwks.json" and client.jwks is None
    assert client.grant_types == (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN)


REFUSALS = [
    pytest.param(
        ["--grant-type", "client_credentials"],
        "--grant-type client_credentials needs --confidential or private_key_jwt",
        id="public-client-credentials",
    ),
    pytest.param(
        ["--auth-method", "private_key_jwt", "--grant-type", "client_credentials"],
        "needs exactly one of --jwks-file, --jwks-uri",
        id="no-keys",
    ),
    pytest.param(
        [
            "--auth-method",
            "private_key_jwt",
            "--grant-type",
            "client_credentials",
            "--jwks-uri",
            "https://a.example/jwks",
            "--jwks-file",
            "JWKS",
        ],
        "needs exactly one of --jwks-file, --jwks-uri",
        id="both-keys",
    ),
    pytest.param(
        ["--confidential", "--grant-type", "client_credentials", "--jwks-uri", "https://a/j"],
        "--jwks-file and --jwks-uri need --auth-method private_key_jwt",
        id="keys-for-a-secret-client",
    ),
    pytest.param(
        [
            "--auth-method",
            "private_key_jwt",
            "--grant-type",
            "client_credentials",
            "--jwks-uri",
            "http://a.example/jwks",
        ],
        "jwks_uri must be an absolute https URL",
        id="http-jwks-uri",
    ),
    pytest.param(
        [
            "--auth-method",
            "private_key_jwt",
            "--grant-type",
            "client_credentials",
            "--jwks-file",
            "PRIVATE",
        ],
        "public asymmetric keys only",
        id="private-key-in-file",
    ),
    pytest.param(
        [
            "--auth-method",
            "private_key_jwt",
            "--grant-type",
            "client_credentials",
            "--jwks-file",
            "GARBAGE",
        ],
        "--jwks-file: cannot read a JSON JWK Set",
        id="file-not-json",
    ),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS)
def test_refusals(
    runner: CliRunner, data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    files = {
        "JWKS": jwks_file(tmp_path, {"keys": [KEY.as_dict(private=False)]}),
        "PRIVATE": tmp_path / "private.json",
        "GARBAGE": tmp_path / "garbage.json",
    }
    files["PRIVATE"].write_text(json.dumps({"keys": [KEY.as_dict(private=True)]}))
    files["GARBAGE"].write_text("{not json")
    args = [str(files[a]) if a in files else a for a in args]

    result = invoke(runner, "client", "add", "--name", "X", *args)

    assert_one_line_error(result, 1, message)
    assert not (data_dir / "ostiary.sqlite3").exists() or stored(data_dir) == []


def test_the_code_grant_still_needs_a_redirect_uri(runner: CliRunner) -> None:
    result = invoke(runner, "client", "add", "--name", "X", "--grant-type", "authorization_code")

    assert result.exit_code == 2  # click's usage error
    assert "--redirect-uri" in result.stderr
