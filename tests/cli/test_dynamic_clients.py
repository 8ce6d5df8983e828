"""``ostiary client list`` / ``remove`` with clients registered dynamically (RFC 7591)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ostiary.core.models import (
    ApplicationType,
    AuthMethod,
    Client,
    ClientId,
    Grant,
    GrantId,
    UserId,
)
from ostiary.storage.protocols import Storage

from .helpers import invoke, read_store

DYNAMIC = Client(
    ClientId("dyn-client-0123456789"),
    "Registered Itself",
    ("http://127.0.0.1:5000/cb", "com.example.app:/cb"),
    application_type=ApplicationType.NATIVE,
    dynamic=True,
    created_at=1_700_000_000,
)
DYNAMIC_SECRET = Client(
    ClientId("dyn-confidential-0123"),
    "Web Service",
    ("https://svc.example/cb",),
    token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
    secret_hash="hash",
    dynamic=True,
    created_at=1_700_000_001,
)
GRANT = Grant(GrantId("g-1"), UserId("u-1"), DYNAMIC.client_id, frozenset({"tools:read"}), "r", 1)


def seed(data_dir: Path, runner: CliRunner) -> None:
    assert invoke(runner, "client", "list").exit_code == 0  # creates the store

    async def save(storage: Storage) -> None:
        await storage.save_client(DYNAMIC)
        await storage.save_client(DYNAMIC_SECRET)
        await storage.save_grant(GRANT)

    read_store(data_dir, save)


def test_list_marks_dynamic_clients(runner: CliRunner, data_dir: Path) -> None:
    seed(data_dir, runner)
    operator = invoke(runner, "client", "add", "--name", "Ops", "--redirect-uri", "http://[::1]/")
    operator_id = operator.stdout.split()[1]

    result = invoke(runner, "client", "list")

    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"{DYNAMIC.client_id}\tRegistered Itself\tpublic, dynamic\t"
            "http://127.0.0.1:5000/cb com.example.app:/cb",
            f"{DYNAMIC_SECRET.client_id}\tWeb Service\t"
            "confidential (client_secret_basic), dynamic\thttps://svc.example/cb",
            f"{operator_id}\tOps\tpublic\thttp://[::1]/",
        ]
    )


def test_remove_a_dynamic_client_revokes_its_grants(runner: CliRunner, data_dir: Path) -> None:
    seed(data_dir, runner)

    result = invoke(runner, "client", "remove", DYNAMIC.client_id)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"removed client {DYNAMIC.client_id}\n"

    async def state(storage: Storage) -> tuple[list[ClientId], Grant | None]:
        remaining = [c.client_id for c in await storage.list_clients()]
        return remaining, await storage.get_grant(GRANT.grant_id)

    remaining, grant = read_store(data_dir, state)
    assert remaining == [DYNAMIC_SECRET.client_id]
    assert grant is not None
    assert grant.revoked_at is not None
