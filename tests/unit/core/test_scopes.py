"""Scope parsing, formatting and checking (RFC 6749 §3.3)."""

from __future__ import annotations

import pytest

from ostiary.core.errors import InvalidScope
from ostiary.core.scopes import (
    SCOPE_DESCRIPTIONS,
    SUPPORTED_SCOPES,
    check_scopes,
    format_scope,
    parse_scope,
)


def test_supported_scopes_are_the_five_documented_ones() -> None:
    assert SUPPORTED_SCOPES == (
        "tools:read",
        "tools:execute",
        "resources:read",
        "resources:write",
        "prompts:read",
    )
    assert all(SCOPE_DESCRIPTIONS[s] for s in SUPPORTED_SCOPES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, frozenset(), id="absent"),
        pytest.param("tools:read", frozenset({"tools:read"}), id="one"),
        pytest.param(
            "tools:read prompts:read", frozenset({"tools:read", "prompts:read"}), id="two"
        ),
        pytest.param("tools:read tools:read", frozenset({"tools:read"}), id="duplicate-collapses"),
        pytest.param("!#[]~", frozenset({"!#[]~"}), id="edge-characters-of-scope-token"),
    ],
)
def test_parse_scope(value: str | None, expected: frozenset[str]) -> None:
    assert parse_scope(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("tools:read  prompts:read", id="double-space"),
        pytest.param(" tools:read", id="leading-space"),
        pytest.param("tools:read ", id="trailing-space"),
        pytest.param("tools:read\tprompts:read", id="tab-separator"),
        pytest.param('tools:"read', id="double-quote"),
        pytest.param("tools:\\read", id="backslash"),
        pytest.param("tools:réad", id="non-ascii"),
        pytest.param("tools:read\x7f", id="delete-character"),
        pytest.param("", id="empty-string"),
    ],
)
def test_parse_scope_refuses_malformed(value: str) -> None:
    with pytest.raises(InvalidScope) as caught:
        parse_scope(value)
    assert caught.value.description == "scope is malformed"


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param([], "", id="empty"),
        pytest.param(["prompts:read", "tools:read"], "tools:read prompts:read", id="known-order"),
        pytest.param(
            ["zeta", "tools:execute", "alpha", "tools:read"],
            "tools:read tools:execute alpha zeta",
            id="known-first-then-sorted-unknown",
        ),
    ],
)
def test_format_scope(scopes: list[str], expected: str) -> None:
    assert format_scope(scopes) == expected


def test_check_scopes_accepts_a_subset() -> None:
    requested = frozenset({"tools:read"})
    assert check_scopes(requested, {"tools:read", "tools:execute"}) == requested
    assert check_scopes(frozenset(), set()) == frozenset()


def test_check_scopes_names_what_is_not_allowed() -> None:
    with pytest.raises(InvalidScope) as caught:
        check_scopes(frozenset({"tools:read", "zeta", "admin"}), {"tools:read"})
    assert caught.value.description == "scope not allowed: admin zeta"
