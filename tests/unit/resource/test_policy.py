"""Scope policy: method defaults, hierarchy, overrides, batches and what it advertises."""

from __future__ import annotations

import pytest

from ostiary.resource.jsonrpc import Operation
from ostiary.resource.policy import ScopePolicy


def required(policy: ScopePolicy, *ops: Operation) -> set[str]:
    return set(policy.decide(ops).required)


@pytest.mark.parametrize(
    ("method", "target", "scopes"),
    [
        ("tools/list", None, {"tools:read"}),
        ("tools/call", "add_note", {"tools:execute"}),
        ("resources/list", None, {"resources:read"}),
        ("resources/read", "notes://1", {"resources:read"}),
        ("resources/templates/list", None, {"resources:read"}),
        ("resources/subscribe", "notes://1", {"resources:read"}),
        ("resources/unsubscribe", "notes://1", {"resources:read"}),
        ("prompts/list", None, {"prompts:read"}),
        ("prompts/get", "summarize", {"prompts:read"}),
        ("initialize", None, set()),
        ("ping", None, set()),
        ("notifications/initialized", None, set()),
        ("notifications/cancelled", None, set()),
        (None, None, set()),  # a response the client sends back
        ("completion/complete", None, set()),  # unknown: token only by default
    ],
)
def test_default_methods(method: str | None, target: str | None, scopes: set[str]) -> None:
    assert required(ScopePolicy(), Operation(method, target)) == scopes


def test_unknown_methods_can_be_denied() -> None:
    decision = ScopePolicy(unknown="deny").decide([Operation("ping"), Operation("x/y")])
    assert decision.denied == "method x/y is not allowed"
    assert ScopePolicy(unknown="deny").decide([Operation("notifications/x")]).denied is None


def test_batch_needs_the_union() -> None:
    ops = [Operation("tools/list"), Operation("prompts/get", "p"), Operation("ping")]
    assert required(ScopePolicy(), *ops) == {"tools:read", "prompts:read"}


def test_overrides_add_to_the_method_default() -> None:
    policy = (
        ScopePolicy()
        .tool("delete_note", requires={"resources:write"})
        .prompt("secret", requires={"resources:read"})
        .resource("notes://private/", requires={"resources:write"}, prefix=True)
        .resource("notes://private/deep/", requires={"admin"}, prefix=True)
        .resource("notes://index", requires={"tools:read"})
    )
    assert required(policy, Operation("tools/call", "delete_note")) == {
        "tools:execute",
        "resources:write",
    }
    assert required(policy, Operation("tools/call", "add_note")) == {"tools:execute"}
    assert required(policy, Operation("prompts/get", "secret")) == {
        "prompts:read",
        "resources:read",
    }
    assert required(policy, Operation("resources/read", "notes://private/1")) == {
        "resources:read",
        "resources:write",
    }
    # the longest prefix wins
    assert required(policy, Operation("resources/subscribe", "notes://private/deep/1")) == {
        "resources:read",
        "admin",
    }
    assert required(policy, Operation("resources/read", "notes://index")) == {
        "resources:read",
        "tools:read",
    }
    assert required(policy, Operation("resources/read", "notes://index2")) == {"resources:read"}


def test_method_defaults_can_be_replaced() -> None:
    policy = ScopePolicy(methods={"tools/list": {"tools:execute"}, "logging/setLevel": {"x"}})
    assert required(policy, Operation("tools/list")) == {"tools:execute"}
    assert required(policy, Operation("logging/setLevel")) == {"x"}


@pytest.mark.parametrize(
    ("granted", "needed", "missing"),
    [
        ({"tools:execute"}, {"tools:read"}, set()),
        ({"tools:read"}, {"tools:execute"}, {"tools:execute"}),
        ({"resources:write"}, {"resources:read"}, set()),
        ({"resources:read"}, {"resources:write"}, {"resources:write"}),
        (set(), {"tools:read", "prompts:read"}, {"tools:read", "prompts:read"}),
        ({"prompts:read"}, set(), set()),
    ],
)
def test_default_hierarchy(granted: set[str], needed: set[str], missing: set[str]) -> None:
    assert ScopePolicy().missing(frozenset(needed), granted) == missing


def test_hierarchy_is_configurable_and_transitive() -> None:
    policy = ScopePolicy(implies={"admin": {"tools:execute"}, "tools:execute": {"tools:read"}})
    assert policy.expand({"admin"}) == {"admin", "tools:execute", "tools:read"}
    assert ScopePolicy(implies={}).missing(frozenset({"tools:read"}), {"tools:execute"}) == {
        "tools:read"
    }


def test_scopes_supported_is_every_named_scope_but_offline_access() -> None:
    assert ScopePolicy().scopes_supported == [
        "tools:read",
        "tools:execute",
        "resources:read",
        "resources:write",
        "prompts:read",
    ]
    policy = ScopePolicy(baseline={"offline_access", "tools:read"}).tool(
        "t", requires={"offline_access", "notes:admin"}
    )
    assert "offline_access" not in policy.scopes_supported
    assert policy.scopes_supported[-1] == "notes:admin"


def test_challenge_scope_is_what_is_needed_or_the_baseline() -> None:
    policy = ScopePolicy()
    assert policy.challenge_scope(frozenset({"tools:execute", "resources:write"})) == (
        "tools:execute resources:write"
    )
    assert policy.challenge_scope(frozenset()) == "tools:read resources:read prompts:read"
    assert ScopePolicy(baseline={"offline_access"}).challenge_scope(frozenset()) == ""
