"""What a POST to an MCP endpoint asks for: each JSON-RPC message's method and target.

The body is authoritative; the ``Mcp-Method`` / ``Mcp-Name`` headers (MCP 2026-07-28,
SEP-2243) only mirror it, so a request whose headers disagree with its body is refused: a
proxy routing on the header and the server acting on the body must never see two requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The parameter each method's target lives in (what ``Mcp-Name`` mirrors).
TARGET_PARAM: dict[str, str] = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "resources/subscribe": "uri",
    "resources/unsubscribe": "uri",
}


class MalformedRequest(Exception):
    """RFC 6750 ``invalid_request``: the body cannot be classified, or headers contradict it."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


@dataclass(frozen=True, slots=True)
class Operation:
    """One message: ``method`` is ``None`` for a response the client sends back."""

    method: str | None
    target: str | None = None


def _operation(message: Any) -> Operation:
    if not isinstance(message, dict):
        raise MalformedRequest("each JSON-RPC message must be an object")
    method = message.get("method")
    if method is None:
        if "result" in message or "error" in message:
            return Operation(None)
        raise MalformedRequest("JSON-RPC message has neither a method nor a result")
    if not isinstance(method, str):
        raise MalformedRequest("JSON-RPC method must be a string")
    key = TARGET_PARAM.get(method)
    if key is None:
        return Operation(method)
    params = message.get("params")
    target = params.get(key) if isinstance(params, dict) else None
    if not isinstance(target, str):
        raise MalformedRequest(f"{method} needs a string params.{key}")
    return Operation(method, target)


_decode = json.JSONDecoder().decode  # what ``json.loads`` uses, without its per-call checks


def _parse(body: bytes) -> Any:
    """``json.loads(body)``, skipping its encoding sniff for the usual ``{`` or ``[`` body.

    ``json.detect_encoding`` answers UTF-8 for any body whose first byte is ``{`` or ``[`` and
    whose second byte is not NUL; every other body takes ``json.loads`` itself.
    """
    if body[:1] in (b"{", b"[") and body[1:2] != b"\x00":
        return _decode(body.decode("utf-8", "surrogatepass"))
    return json.loads(body)


def read_operations(body: bytes) -> list[Operation]:
    """Every message of a single message or a batch, in order."""
    try:
        parsed = _parse(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("body is not JSON") from None
    messages = parsed if isinstance(parsed, list) else [parsed]
    if not messages:
        raise MalformedRequest("empty JSON-RPC batch")
    return [_operation(m) for m in messages]


def check_headers(
    operations: list[Operation], method_header: str | None, name_header: str | None
) -> None:
    """Refuse headers that name a different method or target than every message carries."""
    for op in operations:
        if method_header is not None and method_header != op.method:
            raise MalformedRequest("Mcp-Method header does not match the body")
        if name_header is not None and name_header != op.target:
            raise MalformedRequest("Mcp-Name header does not match the body")
