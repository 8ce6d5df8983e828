"""The body parser's fast path answers exactly as ``json.loads`` does, errors included."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ostiary.resource.jsonrpc import _parse

BODIES = [
    pytest.param(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}', id="object"),
    pytest.param(b'[{"method": "ping"}, {"result": {}}]', id="batch"),
    pytest.param('{"text": "caf\u00e9 \u2603"}'.encode(), id="utf-8 beyond ASCII"),
    pytest.param(b'{"text": "\\ud800"}', id="escaped lone surrogate"),
    pytest.param(b' \n{"method": "ping"}', id="leading whitespace: the slow path"),
    pytest.param('{"method": "ping"}'.encode("utf-16-le"), id="utf-16-le"),
    pytest.param('[{"method": "ping"}]'.encode("utf-16-be"), id="utf-16-be"),
    pytest.param('{"method": "ping"}'.encode("utf-8-sig"), id="utf-8 BOM"),
    pytest.param(b"{", id="truncated object"),
    pytest.param(b"[", id="truncated batch"),
    pytest.param(b"{}", id="empty object"),
    pytest.param(b'{"a": "\xff"}', id="invalid utf-8"),
    pytest.param(b"", id="empty body"),
]


def outcome(parse: Callable[[bytes], Any], body: bytes) -> object:
    try:
        return parse(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return type(exc)


@pytest.mark.parametrize("body", BODIES)
def test_parse_matches_json_loads(body: bytes) -> None:
    assert outcome(_parse, body) == outcome(json.loads, body)
