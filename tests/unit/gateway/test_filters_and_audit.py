"""The pure parts of the gateway: hiding tools, rewriting an SSE answer, audit records."""

from __future__ import annotations

import json

import pytest

from ostiary.core.models import AuditEvent
from ostiary.gateway.call_audit import CallAudit, CallRecord, detail, parse_detail, to_event
from ostiary.gateway.http_app import filter_sse
from ostiary.gateway.tool_filter import ToolFilter
from ostiary.resource.challenges import insufficient_scope
from ostiary.resource.jsonrpc import Operation
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.policy_file import PolicyFileError, policy_from_dict
from ostiary.resource.tokens import VerifiedToken
from ostiary.storage.memory import MemoryStorage


def token(scopes: str) -> VerifiedToken:
    return VerifiedToken("sub", "cid", frozenset(scopes.split()), (), "iss", 0, "g", {"jti": "j"})


POLICY = ScopePolicy().tool("write_file", requires=["resources:write"])
TOOLS = {"tools": [{"name": "read_file"}, {"name": "write_file"}], "nextCursor": "n"}


@pytest.mark.parametrize(
    ("scopes", "visible"),
    [
        ("tools:read", []),  # tools/call needs tools:execute
        ("tools:execute", ["read_file"]),
        ("tools:execute resources:write", ["read_file", "write_file"]),
    ],
)
def test_tools_list_keeps_what_the_token_may_call(scopes: str, visible: list[str]) -> None:
    filtered = ToolFilter(POLICY).filter_result(TOOLS, token(scopes))
    assert [t["name"] for t in filtered["tools"]] == visible
    assert filtered["nextCursor"] == "n"


def test_an_error_or_odd_result_passes_unchanged() -> None:
    tools = ToolFilter(POLICY)
    error = {"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "x"}}
    assert tools.filter_response(error, token("")) == error
    assert tools.filter_result({"tools": "nope"}, token("")) == {"tools": "nope"}


def test_an_sse_answer_is_filtered_event_by_event() -> None:
    answer = {"jsonrpc": "2.0", "id": 3, "result": TOOLS}
    body = f"event: message\nid: 1\ndata: {json.dumps(answer)}\n\n".encode()
    rewritten = filter_sse(body, token("tools:execute"), ToolFilter(POLICY)).decode()
    lines = rewritten.split("\n")
    assert lines[:2] == ["event: message", "id: 1"] and rewritten.endswith("\n\n")
    data = json.loads(lines[2].removeprefix("data: "))
    assert [t["name"] for t in data["result"]["tools"]] == ["read_file"]


def test_hide_denied_tools_in_a_policy_file() -> None:
    assert policy_from_dict({"hide_denied_tools": True}).hide_denied_tools is True
    assert policy_from_dict({}).hide_denied_tools is False
    with pytest.raises(PolicyFileError, match="hide_denied_tools: expected true or false"):
        policy_from_dict({"hide_denied_tools": "yes"})


def test_a_record_keeps_every_field_and_no_secret() -> None:
    record = CallRecord(
        token("a"), "tools/call", "rm", "allowed", "error", 12.345, "-32603 it broke"
    )
    event = to_event(record, 100)
    assert (event.event, event.outcome, event.user_id, event.client_id, event.grant_id) == (
        "mcp_call",
        "error",
        "sub",
        "cid",
        "g",
    )
    assert parse_detail(event.detail) == {
        "token": "j",
        "method": "tools/call",
        "name": "rm",
        "decision": "allowed",
        "latency_ms": "12.3",
        "error": "-32603_it_broke",
    }
    assert "latency_ms=-" in detail(CallRecord(None, "ping", None, "allowed", "ok"))


async def test_calls_are_written_in_batches_and_denials_per_message() -> None:
    storage = MemoryStorage()
    audit = CallAudit(storage, clock=lambda: 50.0)
    for number in range(3):
        audit.record(CallRecord(token("a"), "tools/call", f"t{number}", "allowed", "ok", 1.0))
    refusal = insufficient_scope("https://rs/prm", "tools:execute", "needs tools:execute")
    operations = [
        Operation("tools/call", "x"),
        Operation("notifications/initialized"),
        Operation(None),
    ]
    audit.denied(operations, token("a"), refusal)
    assert await storage.list_audit() == []  # queued, not yet written
    await audit.flush()
    events: list[AuditEvent] = await storage.list_audit()
    assert [parse_detail(e.detail)["name"] for e in events] == ["t0", "t1", "t2", "x"]
    assert events[-1].outcome == "denied" and "403_insufficient_scope" in events[-1].detail
    assert all(e.at == 50 for e in events)
