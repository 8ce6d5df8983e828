"""Scope policies from TOML: every table, and one clear error for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ostiary.resource.jsonrpc import Operation
from ostiary.resource.policy_file import PolicyFileError, load_policy

GOOD = """
unknown = "deny"
baseline = ["tools:read"]

[methods]
"tools/list" = ["tools:execute"]

[implies]
"notes:admin" = ["resources:write", "resources:read"]

[tools]
delete_note = ["resources:write"]

[prompts]
summarize = ["resources:read"]

[resources]
"notes://private/" = { requires = ["notes:admin"], prefix = true }
"notes://index" = ["tools:read"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_table_is_read(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))

    def needs(method: str, target: str | None = None) -> frozenset[str]:
        return policy.decide([Operation(method, target)]).required

    assert policy.unknown == "deny"
    assert policy.baseline == {"tools:read"}
    assert needs("tools/list") == {"tools:execute"}
    assert needs("tools/call", "delete_note") == {"tools:execute", "resources:write"}
    assert needs("prompts/get", "summarize") == {"prompts:read", "resources:read"}
    assert needs("resources/read", "notes://private/x") == {"resources:read", "notes:admin"}
    assert needs("resources/read", "notes://index") == {"resources:read", "tools:read"}
    # [implies] replaces the default hierarchy
    assert policy.expand({"tools:execute"}) == {"tools:execute"}
    assert policy.expand({"notes:admin"}) == {"notes:admin", "resources:write", "resources:read"}


def test_an_empty_file_is_the_default_policy(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, ""))
    assert policy.expand({"tools:execute"}) == {"tools:execute", "tools:read"}
    assert policy.unknown == "token"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tools = [", "Invalid value"),  # TOML syntax
        ('colour = "red"', "unknown key: colour"),
        ('unknown = "maybe"', 'unknown: expected "token" or "deny"'),
        ("tools = 3", "[tools] must be a table"),
        ('[tools]\nx = "tools:read"', "tools.x: expected a list of scope strings"),
        ('[tools]\nx = ["bad scope"]', "tools.x: malformed scope"),
        ('[tools]\nx = ["a\\"b"]', "tools.x: malformed scope"),
        ("baseline = [1]", "baseline: expected a list of scope strings"),
        ('[resources]\n"u:" = { requires = ["a"], prefix = "yes" }', "resources.u:: expected"),
        ('[resources]\n"u:" = { prefix = true }', "resources.u:: expected"),
        ('[resources]\n"u:" = { requires = ["a"], other = 1 }', "resources.u:: expected"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"scope policy {path}: ")
    assert problem in str(caught.value)


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match=r"scope policy .*nope\.toml"):
        load_policy(tmp_path / "nope.toml")
