"""JSON-RPC messages as the gateway passes them on: plain dicts, and the errors it makes."""

from __future__ import annotations

from typing import Any

RequestId = str | int
Message = dict[str, Any]

INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
UNSUPPORTED_PROTOCOL_VERSION = -32022


def error_response(
    request_id: RequestId | None, message: str, code: int = INTERNAL_ERROR, data: Any = None
) -> Message:
    """A JSON-RPC error answering ``request_id`` (``None`` when there is no request to name)."""
    error: Message = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
