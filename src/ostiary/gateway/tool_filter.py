"""``tools/list`` shows only the tools the caller's token may call (when the policy says so).

A tool is hidden when ``tools/call`` of it needs a scope the token lacks (after the policy's
hierarchy). Hiding is a convenience for clients, never the protection: calling a hidden tool is
still refused by the policy with a 403 that names the missing scopes.
"""

from __future__ import annotations

from typing import Any

from ostiary.resource.jsonrpc import Operation
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.tokens import VerifiedToken


class ToolFilter:
    def __init__(self, policy: ScopePolicy) -> None:
        self.policy = policy

    def allowed(self, name: str, scopes: frozenset[str]) -> bool:
        required = self.policy.decide([Operation("tools/call", name)]).required
        return not self.policy.missing(required, scopes)

    def filter_result(self, result: Any, token: VerifiedToken | None) -> Any:
        """A ``tools/list`` result without the tools ``token`` may not call."""
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return result
        scopes = token.scopes if token is not None else frozenset()
        tools = [
            tool
            for tool in result["tools"]
            if not isinstance(tool, dict)
            or not isinstance(tool.get("name"), str)
            or self.allowed(tool["name"], scopes)
        ]
        return {**result, "tools": tools}

    def filter_response(
        self, message: dict[str, Any], token: VerifiedToken | None
    ) -> dict[str, Any]:
        if "result" not in message:
            return message
        return {**message, "result": self.filter_result(message["result"], token)}
