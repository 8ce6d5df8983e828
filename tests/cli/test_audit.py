"""``ostiary audit``: one line per recorded event, filtered by time and count."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ostiary.cli.errors import CliError
from ostiary.cli.times import parse_since
from ostiary.core.models import AuditEvent, User, UserId
from ostiary.storage.protocols import Storage

from .helpers import assert_one_line_error, invoke, read_store

DAY = 86400
NOV_27 = 1_795_737_600  # 2026-11-27T00:00:00Z


def seed(data_dir: Path, events: list[AuditEvent]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)

    async def write(storage: Storage) -> None:
        await storage.add_user(User(UserId("u-alice"), "alice", "$argon2id$x", 0))
        for event in events:
            await storage.append_audit(event)

    read_store(data_dir, write)


def test_each_event_is_one_line_with_every_field(runner: CliRunner, data_dir: Path) -> None:
    seed(
        data_dir,
        [
            AuditEvent(NOV_27 + 3661, "login", "success", "u-alice", address="127.0.0.1"),
            AuditEvent(
                NOV_27 + 3700,
                "grant_revoked",
                "success",
                "u-gone",
                "notes-app",
                "g1",
                None,
                "by\noperator",
            ),
            AuditEvent(NOV_27 + 3800, "login", "failure", detail="unknown username"),
        ],
    )
    result = invoke(runner, "audit")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2026-11-27T01:01:01Z\tlogin\tsuccess\tuser=alice\tclient=-\tgrant=-\taddress=127.0.0.1",
        "2026-11-27T01:01:40Z\tgrant_revoked\tsuccess\tuser=u-gone\tclient=notes-app\tgrant=g1"
        "\taddress=-\tby operator",
        "2026-11-27T01:03:20Z\tlogin\tfailure\tuser=-\tclient=-\tgrant=-\taddress=-"
        "\tunknown username",
    ]


def test_since_a_date_and_limit(runner: CliRunner, data_dir: Path) -> None:
    seed(data_dir, [AuditEvent(NOV_27 + d * DAY, f"e{d}", "success") for d in range(-2, 3)])
    since = invoke(runner, "audit", "--since", "2026-11-27")
    assert [line.split("\t")[1] for line in since.stdout.splitlines()] == ["e0", "e1", "e2"]
    limited = invoke(runner, "audit", "--since", "2026-11-27", "--limit", "2")
    assert [line.split("\t")[1] for line in limited.stdout.splitlines()] == ["e1", "e2"]


def test_since_a_duration_counts_back_from_now(runner: CliRunner, data_dir: Path) -> None:
    now = int(time.time())
    seed(
        data_dir,
        [
            AuditEvent(now - 3 * DAY, "old", "success"),
            AuditEvent(now - 2 * 3600, "two_hours", "success"),
            AuditEvent(now - 60, "recent", "success"),
        ],
    )
    hour = invoke(runner, "audit", "--since", "1h")
    assert [line.split("\t")[1] for line in hour.stdout.splitlines()] == ["recent"]
    days = invoke(runner, "audit", "--since", "2d")
    assert [line.split("\t")[1] for line in days.stdout.splitlines()] == ["two_hours", "recent"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-27", NOV_27, id="date"),
        pytest.param("2026-11-27T10:00", NOV_27 + 36000, id="naive-is-utc"),
        pytest.param("2026-11-27T10:00Z", NOV_27 + 36000, id="zulu"),
        pytest.param("2026-11-27T12:00+02:00", NOV_27 + 36000, id="offset"),
        pytest.param("90s", NOV_27 - 90, id="seconds"),
        pytest.param("30m", NOV_27 - 1800, id="minutes"),
        pytest.param("1h", NOV_27 - 3600, id="hours"),
        pytest.param("2d", NOV_27 - 2 * DAY, id="days"),
        pytest.param("1w", NOV_27 - 7 * DAY, id="weeks"),
    ],
)
def test_parse_since(value: str, expected: int) -> None:
    assert parse_since(value, NOV_27) == expected


@pytest.mark.parametrize("value", ["yesterday", "1y", "-1h", "2026-13-01", ""])
def test_parse_since_refuses_anything_else(value: str) -> None:
    with pytest.raises(CliError, match="--since"):
        parse_since(value, NOV_27)


def test_a_bad_since_is_a_one_line_error(runner: CliRunner) -> None:
    assert_one_line_error(invoke(runner, "audit", "--since", "last tuesday"), 1, "--since")


def test_an_empty_trail_prints_nothing(runner: CliRunner) -> None:
    result = invoke(runner, "audit")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_calls_shows_only_the_gateway_calls_in_columns(runner: CliRunner, data_dir: Path) -> None:
    from ostiary.gateway.call_audit import CallRecord, to_event
    from ostiary.resource.tokens import VerifiedToken

    token = VerifiedToken("u-alice", "notes-app", frozenset(), (), "iss", 0, "g1", {"jti": "t-1"})
    allowed = CallRecord(token, "tools/call", "write_file", "allowed", "ok", 2.25)
    denied = CallRecord(token, "tools/call", "rm", "denied", "denied", None, "403 x: needs more")
    seed(
        data_dir,
        [
            AuditEvent(NOV_27, "login", "success", "u-alice"),
            to_event(allowed, NOV_27 + 1),
            to_event(denied, NOV_27 + 2),
        ],
    )
    result = invoke(runner, "audit", "--calls")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2026-11-27T00:00:01Z\tuser=alice\tclient=notes-app\ttoken=t-1\tmethod=tools/call"
        "\tname=write_file\tdecision=allowed\tlatency_ms=2.2\toutcome=ok",
        "2026-11-27T00:00:02Z\tuser=alice\tclient=notes-app\ttoken=t-1\tmethod=tools/call"
        "\tname=rm\tdecision=denied\tlatency_ms=-\toutcome=denied\terror=403_x:_needs_more",
    ]
    everything = invoke(runner, "audit")
    assert len(everything.output.splitlines()) == 3
