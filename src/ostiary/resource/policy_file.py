"""A scope policy from a TOML file, validated whole, with one clear error for a bad file.

Format (every table optional)::

    unknown = "token"                  # or "deny"
    hide_denied_tools = false          # a gateway's tools/list shows only callable tools
    baseline = ["tools:read", "resources:read", "prompts:read"]

    [methods]                          # replaces a method's default
    "tools/list" = ["tools:read"]

    [implies]                          # replaces the default hierarchy when present
    "tools:execute" = ["tools:read"]

    [tools]
    delete_note = ["resources:write"]  # added to what tools/call already needs

    [prompts]
    summarize = ["resources:read"]

    [resources]
    "notes://private/" = { requires = ["resources:write"], prefix = true }
    "notes://index" = ["resources:read"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ostiary.core.errors import InvalidScope
from ostiary.core.scopes import parse_scope
from ostiary.resource.policy import ScopePolicy

_TABLES = {
    "unknown",
    "hide_denied_tools",
    "baseline",
    "methods",
    "implies",
    "tools",
    "prompts",
    "resources",
}


class PolicyFileError(ValueError):
    """The policy file cannot be used; the message names the file and the first problem."""


def _scopes(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise PolicyFileError(f"{where}: expected a list of scope strings")
    try:
        if any(" " in s or not parse_scope(s) for s in value):
            raise InvalidScope("scope is malformed")
    except InvalidScope:
        raise PolicyFileError(f"{where}: malformed scope") from None
    return frozenset(value)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise PolicyFileError(f"[{key}] must be a table")
    return value


def _mapping(data: dict[str, Any], key: str) -> dict[str, frozenset[str]]:
    return {name: _scopes(v, f"{key}.{name}") for name, v in _table(data, key).items()}


def _add_resources(policy: ScopePolicy, data: dict[str, Any]) -> None:
    for uri, value in _table(data, "resources").items():
        where = f"resources.{uri}"
        if isinstance(value, dict):
            extra = set(value) - {"requires", "prefix"}
            prefix = value.get("prefix", False)
            if extra or "requires" not in value or not isinstance(prefix, bool):
                raise PolicyFileError(f"{where}: expected {{ requires = [...], prefix = bool }}")
            policy.resource(uri, requires=_scopes(value["requires"], where), prefix=prefix)
        else:
            policy.resource(uri, requires=_scopes(value, where))


def policy_from_dict(data: dict[str, Any]) -> ScopePolicy:
    """Build and validate; raises ``PolicyFileError`` on the first problem."""
    unknown_keys = set(data) - _TABLES
    if unknown_keys:
        raise PolicyFileError(f"unknown key: {sorted(unknown_keys)[0]}")
    unknown = data.get("unknown", "token")
    if unknown not in ("token", "deny"):
        raise PolicyFileError('unknown: expected "token" or "deny"')
    hide = data.get("hide_denied_tools", False)
    if not isinstance(hide, bool):
        raise PolicyFileError("hide_denied_tools: expected true or false")
    options: dict[str, Any] = {
        "methods": _mapping(data, "methods"),
        "unknown": unknown,
        "hide_denied_tools": hide,
    }
    if "implies" in data:
        options["implies"] = _mapping(data, "implies")
    if "baseline" in data:
        options["baseline"] = _scopes(data["baseline"], "baseline")
    policy = ScopePolicy(**options)
    for name, scopes in _mapping(data, "tools").items():
        policy.tool(name, requires=scopes)
    for name, scopes in _mapping(data, "prompts").items():
        policy.prompt(name, requires=scopes)
    _add_resources(policy, data)
    return policy


def load_policy(path: str | Path) -> ScopePolicy:
    """Read ``path``; every failure is one ``PolicyFileError`` naming the file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return policy_from_dict(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, PolicyFileError) as exc:
        raise PolicyFileError(f"scope policy {path}: {exc}") from None
