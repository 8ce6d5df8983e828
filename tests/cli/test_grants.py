"""``ostiary grant list`` and ``ostiary grant revoke``, against a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.core.models import (
    AuditEvent,
    Client,
    ClientId,
    Consent,
    Grant,
    GrantId,
    RefreshToken,
    User,
    UserId,
)
from ostiary.storage.protocols import Storage

from .helpers import assert_one_line_error, invoke, read_store

T0 = 1_795_000_000  # 2026-11-18T11:06:40Z
ALICE, BOB = UserId("u-alice"), UserId("u-bob")
NOTES, MAIL = ClientId("notes-app"), ClientId("mail-app")


@pytest.fixture
def seeded(data_dir: Path) -> Path:
    """Two users, two clients, three live grants (one used since) and one revoked grant."""
    data_dir.mkdir(parents=True)

    async def seed(storage: Storage) -> None:
        for user_id, name in ((ALICE, "alice"), (BOB, "bob")):
            await storage.add_user(User(user_id, name, "$argon2id$x", T0))
        for client_id in (NOTES, MAIL):
            await storage.save_client(Client(client_id, client_id, ("https://a.example/cb",)))
        grants = [
            Grant(GrantId("g1"), ALICE, NOTES, frozenset({"tools:read"}), "r", T0),
            Grant(
                GrantId("g2"), ALICE, MAIL, frozenset({"tools:execute", "tools:read"}), "r", T0 + 60
            ),
            Grant(GrantId("g3"), BOB, NOTES, frozenset({"prompts:read"}), "r", T0 + 120),
            Grant(GrantId("g4"), BOB, MAIL, frozenset({"tools:read"}), "r", T0 + 180),
        ]
        for grant in grants:
            await storage.save_grant(grant)
        await storage.revoke_grant(GrantId("g4"), T0 + 240)
        await storage.save_refresh_token(
            RefreshToken(
                "h1",
                GrantId("g1"),
                NOTES,
                ALICE,
                frozenset({"tools:read"}),
                "r",
                T0 + 9999,
                T0 + 300,
            )
        )
        await storage.save_consent(Consent(ALICE, NOTES, frozenset({"tools:read"}), T0))

    read_store(data_dir, seed)
    return data_dir


def test_list_shows_live_grants_newest_first(runner: CliRunner, seeded: Path) -> None:
    result = invoke(runner, "grant", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "g3\tbob\tnotes-app\tprompts:read\tcreated 2026-11-18T11:08:40Z\tlast used never\tactive",
        "g2\talice\tmail-app\ttools:read tools:execute\tcreated 2026-11-18T11:07:40Z"
        "\tlast used never\tactive",
        "g1\talice\tnotes-app\ttools:read\tcreated 2026-11-18T11:06:40Z"
        "\tlast used 2026-11-18T11:11:40Z\tactive",
    ]


def test_list_all_includes_revoked_grants(runner: CliRunner, seeded: Path) -> None:
    result = invoke(runner, "grant", "list", "--all")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("g4\tbob\tmail-app\t")
    assert first.endswith("\trevoked 2026-11-18T11:10:40Z")
    assert len(result.stdout.splitlines()) == 4


@pytest.mark.parametrize(
    ("options", "ids"),
    [
        pytest.param(["--user", "alice"], ["g2", "g1"], id="user"),
        pytest.param(["--client", "notes-app"], ["g3", "g1"], id="client"),
        pytest.param(["--user", "bob", "--client", "mail-app", "--all"], ["g4"], id="both-all"),
        pytest.param(["--user", "bob", "--client", "mail-app"], [], id="both-live"),
    ],
)
def test_list_filters(runner: CliRunner, seeded: Path, options: list[str], ids: list[str]) -> None:
    result = invoke(runner, "grant", "list", *options)
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ids


def test_list_for_an_unknown_user_is_an_error(runner: CliRunner, seeded: Path) -> None:
    assert_one_line_error(invoke(runner, "grant", "list", "--user", "mallory"), 1, "no user named")


def test_revoke_revokes_forgets_consent_and_records_the_operator(
    runner: CliRunner, seeded: Path
) -> None:
    result = invoke(runner, "grant", "revoke", "g1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "revoked grant g1\n"

    async def state(storage: Storage) -> tuple[Grant | None, Consent | None, list[AuditEvent]]:
        return (
            await storage.get_grant(GrantId("g1")),
            await storage.get_consent(ALICE, NOTES),
            await storage.list_audit(),
        )

    grant, consent, events = read_store(seeded, state)
    assert grant is not None and grant.revoked_at is not None
    assert consent is not None and consent.scopes == frozenset()
    assert [(e.event, e.outcome, e.user_id, e.client_id, e.grant_id, e.detail) for e in events] == [
        ("grant_revoked", "success", ALICE, NOTES, "g1", "by operator")
    ]
    listed = invoke(runner, "grant", "list", "--user", "alice")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["g2"]


@pytest.mark.parametrize(
    ("grant_id", "message"),
    [
        pytest.param("nope", "no grant 'nope'", id="unknown"),
        pytest.param("g4", "grant 'g4' is already revoked", id="revoked"),
    ],
)
def test_revoke_refuses_unknown_or_revoked_ids(
    runner: CliRunner, seeded: Path, grant_id: str, message: str
) -> None:
    assert_one_line_error(invoke(runner, "grant", "revoke", grant_id), 1, message)

    async def events(storage: Storage) -> list[AuditEvent]:
        return await storage.list_audit()

    assert read_store(seeded, events) == []
