"""Which scopes each MCP operation needs: one policy for decisions, metadata and challenges.

Defaults (``ScopePolicy()``):

- ``tools/list`` → ``tools:read``; ``tools/call`` → ``tools:execute``;
  ``resources/list|read|templates/list|subscribe|unsubscribe`` → ``resources:read``;
  ``prompts/list|get`` → ``prompts:read``.
- ``initialize``, ``ping``, every ``notifications/*`` and every response the client sends
  back need only a valid token.
- Unknown methods (``completion/complete``, ``logging/setLevel``, anything newer) need only a
  valid token (``unknown="token"``): the wrapped server refuses what it does not implement,
  and denying them would break protocol additions. ``unknown="deny"`` refuses them with 403.
- Hierarchy: ``tools:execute`` implies ``tools:read``; ``resources:write`` implies
  ``resources:read`` (REQ-RS-11: a broader scope satisfies a narrower one; transitive).
- Per-tool, per-resource (exact URI or URI prefix, longest prefix wins) and per-prompt
  overrides add scopes to the method's own: an override can never weaken the default.
- ``hide_denied_tools``: a gateway leaves out of ``tools/list`` the tools the caller's token
  may not call (calling one is refused all the same).
- ``baseline`` (the read scopes) is what a tokenless request that needs nothing specific is
  told to ask for, so a first authorization stays minimal and step-up adds the rest.

``scopes_supported`` is every scope the policy names, never ``offline_access`` (REQ-RS-12).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ostiary.core.scopes import format_scope
from ostiary.resource.jsonrpc import Operation

DEFAULT_METHODS: dict[str, frozenset[str]] = {
    "tools/list": frozenset({"tools:read"}),
    "tools/call": frozenset({"tools:execute"}),
    **{
        f"resources/{m}": frozenset({"resources:read"})
        for m in ("list", "read", "templates/list", "subscribe", "unsubscribe")
    },
    "prompts/list": frozenset({"prompts:read"}),
    "prompts/get": frozenset({"prompts:read"}),
}
TOKEN_ONLY: frozenset[str] = frozenset({"initialize", "ping"})
DEFAULT_IMPLIES: dict[str, frozenset[str]] = {
    "tools:execute": frozenset({"tools:read"}),
    "resources:write": frozenset({"resources:read"}),
}
DEFAULT_BASELINE = frozenset({"tools:read", "resources:read", "prompts:read"})
NEVER_ADVERTISED = frozenset({"offline_access"})
_RESOURCE_METHODS = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})


@dataclass(frozen=True, slots=True)
class Decision:
    """``required`` scopes for the whole request; ``denied`` when the policy refuses outright."""

    required: frozenset[str]
    denied: str | None = None


class ScopePolicy:
    """Method defaults, hierarchy and overrides; build in code or with ``load_policy``."""

    def __init__(
        self,
        *,
        methods: Mapping[str, Iterable[str]] | None = None,
        implies: Mapping[str, Iterable[str]] | None = None,
        baseline: Iterable[str] = DEFAULT_BASELINE,
        unknown: Literal["token", "deny"] = "token",
        hide_denied_tools: bool = False,
    ) -> None:
        self._methods = dict(DEFAULT_METHODS)
        self._methods.update({m: frozenset(s) for m, s in (methods or {}).items()})
        chosen = DEFAULT_IMPLIES if implies is None else implies
        self._implies = {k: frozenset(v) for k, v in chosen.items()}
        self.baseline = frozenset(baseline)
        self.unknown = unknown
        self.hide_denied_tools = hide_denied_tools
        self._tools: dict[str, frozenset[str]] = {}
        self._prompts: dict[str, frozenset[str]] = {}
        self._resources: dict[str, frozenset[str]] = {}
        self._prefixes: dict[str, frozenset[str]] = {}

    def tool(self, name: str, *, requires: Iterable[str]) -> ScopePolicy:
        """``tools/call`` of ``name`` also needs ``requires``."""
        self._tools[name] = frozenset(requires)
        return self

    def prompt(self, name: str, *, requires: Iterable[str]) -> ScopePolicy:
        """``prompts/get`` of ``name`` also needs ``requires``."""
        self._prompts[name] = frozenset(requires)
        return self

    def resource(self, uri: str, *, requires: Iterable[str], prefix: bool = False) -> ScopePolicy:
        """Reading or subscribing to ``uri`` (or any URI under it) also needs ``requires``."""
        (self._prefixes if prefix else self._resources)[uri] = frozenset(requires)
        return self

    def _target_scopes(self, op: Operation) -> frozenset[str]:
        if op.target is None:
            return frozenset()
        if op.method == "tools/call":
            return self._tools.get(op.target, frozenset())
        if op.method == "prompts/get":
            return self._prompts.get(op.target, frozenset())
        if op.method in _RESOURCE_METHODS:
            if op.target in self._resources:
                return self._resources[op.target]
            matches = [p for p in self._prefixes if op.target.startswith(p)]
            return self._prefixes[max(matches, key=len)] if matches else frozenset()
        return frozenset()

    def _known(self, method: str | None) -> bool:
        return (
            method is None
            or method in self._methods
            or method in TOKEN_ONLY
            or method.startswith("notifications/")
        )

    def decide(self, operations: Iterable[Operation]) -> Decision:
        """The union of what every message needs (a batch needs all of it at once)."""
        required: set[str] = set()
        for op in operations:
            if not self._known(op.method):
                if self.unknown == "deny":
                    return Decision(frozenset(), denied=f"method {op.method} is not allowed")
                continue
            if op.method is not None:
                required |= self._methods.get(op.method, frozenset())
            required |= self._target_scopes(op)
        return Decision(frozenset(required))

    def expand(self, granted: Iterable[str]) -> frozenset[str]:
        """``granted`` plus every scope it implies, transitively."""
        result = set(granted)
        pending = list(result)
        while pending:
            for implied in self._implies.get(pending.pop(), ()):
                if implied not in result:
                    result.add(implied)
                    pending.append(implied)
        return frozenset(result)

    def missing(self, required: frozenset[str], granted: Iterable[str]) -> frozenset[str]:
        """What ``granted`` lacks for ``required``, after the hierarchy.

        The common case (the token names every scope outright) costs one subset test.
        """
        held = granted if isinstance(granted, frozenset | set) else frozenset(granted)
        if required <= held:
            return frozenset()
        return required - self.expand(held)

    def challenge_scope(self, required: frozenset[str]) -> str:
        """The ``scope`` attribute: what the operation needs, or the baseline when nothing."""
        return format_scope((required or self.baseline) - NEVER_ADVERTISED)

    @property
    def scopes_supported(self) -> list[str]:
        """Every scope this policy names, in a stable order; ``offline_access`` never."""
        named: set[str] = set(self.baseline)
        for group in (self._methods, self._tools, self._prompts, self._resources, self._prefixes):
            for scopes in group.values():
                named |= scopes
        for broad, narrow in self._implies.items():
            named |= {broad, *narrow}
        return format_scope(named - NEVER_ADVERTISED).split()
