"""Reading JSON-RPC bodies and checking the Mcp-Method / Mcp-Name headers against them."""

from __future__ import annotations

import json

import pytest

from ostiary.resource.jsonrpc import MalformedRequest, Operation, check_headers, read_operations


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_single_batch_notification_and_response() -> None:
    ops = read_operations(
        body(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t"}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 9, "result": {}},
                {"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "u:1"}},
            ]
        )
    )
    assert ops == [
        Operation("tools/call", "t"),
        Operation("notifications/initialized"),
        Operation(None),
        Operation("resources/read", "u:1"),
    ]
    assert read_operations(body({"jsonrpc": "2.0", "id": 1, "method": "ping"})) == [
        Operation("ping")
    ]


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[]", "empty JSON-RPC batch"),
        (b"[1]", "each JSON-RPC message must be an object"),
        (b'{"id": 1}', "JSON-RPC message has neither a method nor a result"),
        (b'{"method": 5}', "JSON-RPC method must be a string"),
        (b'{"method": "tools/call"}', "tools/call needs a string params.name"),
        (
            b'{"method": "resources/read", "params": {"uri": 3}}',
            "resources/read needs a string params.uri",
        ),
    ],
)
def test_malformed_bodies(raw: bytes, description: str) -> None:
    with pytest.raises(MalformedRequest) as caught:
        read_operations(raw)
    assert caught.value.description == description


def test_headers_must_match_every_message() -> None:
    call = [Operation("tools/call", "t")]
    check_headers(call, "tools/call", "t")
    check_headers(call, None, None)
    check_headers(call, "tools/call", None)
    for method, name, problem in [
        ("tools/list", None, "Mcp-Method"),
        ("tools/call", "other", "Mcp-Name"),
        (None, "other", "Mcp-Name"),
    ]:
        with pytest.raises(MalformedRequest, match=problem):
            check_headers(call, method, name)
    with pytest.raises(MalformedRequest, match="Mcp-Method"):
        check_headers([Operation("tools/list"), Operation("ping")], "tools/list", None)
    with pytest.raises(MalformedRequest, match="Mcp-Name"):
        check_headers([Operation("tools/list")], None, "x")
