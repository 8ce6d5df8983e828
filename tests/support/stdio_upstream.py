"""A stdio MCP server for the gateway's own tests, speaking raw JSON-RPC lines so every byte is
under the test's control. Run as ``python stdio_upstream.py``; it writes what it received to
stderr as ``seen <json>`` lines, which the gateway logs.

Tools: ``echo`` (its ``text``), ``ids`` (the request id it was given and its pid), ``ask``
(asks the client for a sampling result and answers with its text), ``progress`` (two progress
notifications, then a result), ``log`` (a log notification, then a result), ``slow`` (never
answers), ``cancelled`` (the request ids cancelled so far), ``handshakes`` (how many
``initialize`` and ``notifications/initialized`` it saw), ``crash`` (exits with code 3).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

TOOLS = ["echo", "ids", "ask", "progress", "log", "slow", "cancelled", "handshakes", "crash"]


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def text(request_id: Any, value: str) -> None:
    send(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "result": {"content": [{"type": "text", "text": value}]},
        }
    )


class Upstream:
    def __init__(self) -> None:
        self.counts = {"initialize": 0, "initialized": 0}
        self.cancelled: list[Any] = []
        self.waiting: dict[Any, Any] = {}  # our sampling request id → the call it serves

    def handle(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        request_id = message.get("id")
        params = message.get("params") or {}
        if method is None:  # the client's answer to our sampling request
            sampled = message.get("result", {}).get("content", {}).get("text", "?")
            text(self.waiting.pop(request_id), f"sampled: {sampled}")
        elif method == "initialize":
            self.counts["initialize"] += 1
            result = {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "stdio-upstream", "version": "1"},
            }
            send({"jsonrpc": "2.0", "id": request_id, "result": result})
        elif method == "notifications/initialized":
            self.counts["initialized"] += 1
        elif method == "notifications/cancelled":
            self.cancelled.append(params.get("requestId"))
        elif method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in TOOLS]
            send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": tools}})
        elif method == "tools/call":
            self.call(request_id, params)
        elif request_id is not None:
            error = {"code": -32601, "message": f"no method {method}"}
            send({"jsonrpc": "2.0", "id": request_id, "error": error})

    def call(self, request_id: Any, params: dict[str, Any]) -> None:
        name = params.get("name")
        arguments = params.get("arguments") or {}
        simple = {
            "echo": lambda: str(arguments.get("text", "")),
            "ids": lambda: json.dumps({"id": request_id, "pid": os.getpid()}),
            "cancelled": lambda: json.dumps(self.cancelled),
            "handshakes": lambda: json.dumps(self.counts),
        }
        if name in simple:
            text(request_id, simple[name]())
        elif name == "ask":
            ours = f"sample-{request_id}"
            self.waiting[ours] = request_id
            ask = {"messages": [], "maxTokens": 5}
            send({"jsonrpc": "2.0", "id": ours, "method": "sampling/createMessage", "params": ask})
        elif name == "progress":
            token = params.get("_meta", {}).get("progressToken")
            for step in (1, 2):
                note = {"progressToken": token, "progress": step, "total": 2}
                send({"jsonrpc": "2.0", "method": "notifications/progress", "params": note})
            text(request_id, "done")
        elif name == "log":
            note = {"level": "info", "data": "a log line"}
            send({"jsonrpc": "2.0", "method": "notifications/message", "params": note})
            text(request_id, "logged")
        elif name == "crash":
            sys.exit(3)
        # "slow": never answered


def main() -> None:
    upstream = Upstream()
    for line in sys.stdin:
        message = json.loads(line)
        print("seen " + json.dumps(message), file=sys.stderr, flush=True)
        upstream.handle(message)


if __name__ == "__main__":
    main()
