"""The scope policy through the middleware: method × token → status and the exact challenge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .mcp_app import RM, bearer, protected, rpc

BASELINE = "tools:read resources:read prompts:read"


def missing(scope: str) -> str:
    return f'Bearer resource_metadata="{RM}", scope="{scope}"'


def invalid(description: str) -> str:
    return (
        f'Bearer error="invalid_token", error_description="{description}", resource_metadata="{RM}"'
    )


def bad_request(description: str) -> str:
    return (
        f'Bearer error="invalid_request", error_description="{description}", '
        f'resource_metadata="{RM}"'
    )


def insufficient(scope: str, lacking: str) -> str:
    return (
        f'Bearer error="insufficient_scope", scope="{scope}", '
        f'error_description="this operation also needs {lacking}", resource_metadata="{RM}"'
    )


CALL_ADD = rpc("tools/call", {"name": "add_note", "arguments": {}})
CALL_DELETE = rpc("tools/call", {"name": "delete_note", "arguments": {}})
READ = rpc("resources/read", {"uri": "notes://1"})
READ_PRIVATE = rpc("resources/read", {"uri": "notes://private/1"})
RESPONSE = {"jsonrpc": "2.0", "id": 7, "result": {}}
NOTIFY = rpc("notifications/initialized", id=None)

# (body, token name, extra headers, status, WWW-Authenticate or None)
TABLE: dict[str, tuple[Any, str | None, dict[str, str], int, str | None]] = {
    # no token: 401, no error attribute, the scopes the operation needs or the baseline
    "initialize/none": (rpc("initialize"), None, {}, 401, missing(BASELINE)),
    "ping/none": (rpc("ping"), None, {}, 401, missing(BASELINE)),
    "notification/none": (NOTIFY, None, {}, 401, missing(BASELINE)),
    "tools-list/none": (rpc("tools/list"), None, {}, 401, missing("tools:read")),
    "tools-call/none": (CALL_ADD, None, {}, 401, missing("tools:execute")),
    "delete/none": (CALL_DELETE, None, {}, 401, missing("tools:execute resources:write")),
    "batch/none": (
        [rpc("tools/list"), rpc("prompts/list", id=2)],
        None,
        {},
        401,
        missing("tools:read prompts:read"),
    ),
    "basic-scheme/none": (
        rpc("tools/list"),
        None,
        {"Authorization": "Basic YTpi"},
        401,
        missing("tools:read"),
    ),
    # bad token: 401 invalid_token
    "tools-list/bad": (rpc("tools/list"), "forged", {}, 401, invalid("token is not active")),
    "initialize/bad": (rpc("initialize"), "forged", {}, 401, invalid("token is not active")),
    # a valid token is enough for these
    "initialize/empty": (rpc("initialize"), "empty", {}, 200, None),
    "ping/empty": (rpc("ping"), "empty", {}, 200, None),
    "notification/empty": (NOTIFY, "empty", {}, 202, None),
    "cancelled/empty": (
        rpc("notifications/cancelled", {"requestId": 1}, id=None),
        "empty",
        {},
        202,
        None,
    ),
    "response/empty": (RESPONSE, "empty", {}, 202, None),
    "unknown-method/empty": (rpc("completion/complete", {}), "empty", {}, 200, None),
    # tools
    "tools-list/empty": (
        rpc("tools/list"),
        "empty",
        {},
        403,
        insufficient("tools:read", "tools:read"),
    ),
    "tools-list/read": (rpc("tools/list"), "read", {}, 200, None),
    "tools-list/exec (hierarchy)": (rpc("tools/list"), "exec", {}, 200, None),
    "tools-call/read": (CALL_ADD, "read", {}, 403, insufficient("tools:execute", "tools:execute")),
    "tools-call/exec": (CALL_ADD, "exec", {}, 200, None),
    "delete/exec (override)": (
        CALL_DELETE,
        "exec",
        {},
        403,
        insufficient("tools:execute resources:write", "resources:write"),
    ),
    "delete/read": (
        CALL_DELETE,
        "read",
        {},
        403,
        insufficient("tools:execute resources:write", "tools:execute resources:write"),
    ),
    "delete/write": (CALL_DELETE, "write", {}, 200, None),
    # resources
    "resources-list/exec": (
        rpc("resources/list"),
        "exec",
        {},
        403,
        insufficient("resources:read", "resources:read"),
    ),
    "resources-list/read": (rpc("resources/list"), "read", {}, 200, None),
    "resources-read/read": (READ, "read", {}, 200, None),
    "resources-read/write (hierarchy)": (READ, "write", {}, 200, None),
    "templates/read": (rpc("resources/templates/list"), "read", {}, 200, None),
    "templates/prompts": (
        rpc("resources/templates/list"),
        "prompts",
        {},
        403,
        insufficient("resources:read", "resources:read"),
    ),
    "subscribe/read": (rpc("resources/subscribe", {"uri": "notes://1"}), "read", {}, 200, None),
    "unsubscribe/read": (rpc("resources/unsubscribe", {"uri": "notes://1"}), "read", {}, 200, None),
    "private/read (prefix override)": (
        READ_PRIVATE,
        "read",
        {},
        403,
        insufficient("resources:read resources:write", "resources:write"),
    ),
    "private/write": (READ_PRIVATE, "write", {}, 200, None),
    "private-subscribe/read": (
        rpc("resources/subscribe", {"uri": "notes://private/2"}),
        "read",
        {},
        403,
        insufficient("resources:read resources:write", "resources:write"),
    ),
    # prompts
    "prompts-list/prompts": (rpc("prompts/list"), "prompts", {}, 200, None),
    "prompts-list/exec": (
        rpc("prompts/list"),
        "exec",
        {},
        403,
        insufficient("prompts:read", "prompts:read"),
    ),
    "prompts-get/prompts": (rpc("prompts/get", {"name": "summary"}), "prompts", {}, 200, None),
    "secret-prompt/prompts (override)": (
        rpc("prompts/get", {"name": "secret"}),
        "prompts",
        {},
        403,
        insufficient("resources:read prompts:read", "resources:read"),
    ),
    "secret-prompt/read": (rpc("prompts/get", {"name": "secret"}), "read", {}, 200, None),
    # batches need the union of every message
    "batch/exec": (
        [rpc("tools/list"), rpc("prompts/list", id=2), NOTIFY],
        "exec",
        {},
        403,
        insufficient("tools:read prompts:read", "prompts:read"),
    ),
    "batch/read": ([rpc("tools/list"), rpc("prompts/list", id=2), NOTIFY], "read", {}, 200, None),
    "batch-with-delete/read": (
        [rpc("tools/list"), CALL_DELETE | {"id": 2}],
        "read",
        {},
        403,
        insufficient("tools:read tools:execute resources:write", "tools:execute resources:write"),
    ),
    # Mcp-Method / Mcp-Name headers must agree with the body
    "headers-agree/exec": (
        CALL_ADD,
        "exec",
        {"Mcp-Method": "tools/call", "Mcp-Name": "add_note"},
        200,
        None,
    ),
    "method-header-disagrees/write": (
        CALL_DELETE,
        "write",
        {"Mcp-Method": "tools/list"},
        400,
        bad_request("Mcp-Method header does not match the body"),
    ),
    "name-header-disagrees/exec": (
        CALL_DELETE,
        "exec",
        {"Mcp-Method": "tools/call", "Mcp-Name": "add_note"},
        400,
        bad_request("Mcp-Name header does not match the body"),
    ),
    "uri-header-disagrees/write": (
        READ_PRIVATE,
        "write",
        {"Mcp-Method": "resources/read", "Mcp-Name": "notes://1"},
        400,
        bad_request("Mcp-Name header does not match the body"),
    ),
    "headers-disagree/none": (
        CALL_DELETE,
        None,
        {"Mcp-Name": "add_note"},
        401,
        missing(BASELINE),
    ),
    # malformed bodies
    "missing-tool-name/exec": (
        rpc("tools/call", {}),
        "exec",
        {},
        400,
        bad_request("tools/call needs a string params.name"),
    ),
    "empty-batch/read": ([], "read", {}, 400, bad_request("empty JSON-RPC batch")),
}


@pytest.mark.parametrize(("case"), list(TABLE))
async def test_policy_table(case: str) -> None:
    body, name, headers, status, challenge = TABLE[case]
    async with protected() as (client, _):
        response = await client.post(
            "/mcp", content=json.dumps(body), headers={**bearer(name), **headers}
        )
    assert response.status_code == status, response.text
    assert response.headers.get("www-authenticate") == challenge
    if status == 200:
        result = response.json()
        first = result[0] if isinstance(result, list) else result
        assert first["result"]["state"]["subject"] == "alice"
        assert first["result"]["context"] == first["result"]["state"]
    elif status >= 400:
        assert response.json()["error"] in {
            "unauthorized",
            "invalid_token",
            "invalid_request",
            "insufficient_scope",
        }
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "name", "status", "challenge"),
    [
        ("GET", None, 401, missing(BASELINE)),
        ("GET", "forged", 401, invalid("token is not active")),
        ("GET", "empty", 200, None),
        ("DELETE", None, 401, missing(BASELINE)),
        ("DELETE", "forged", 401, invalid("token is not active")),
        ("DELETE", "empty", 204, None),
    ],
)
async def test_every_http_method_is_authenticated(
    method: str, name: str | None, status: int, challenge: str | None
) -> None:
    async with protected() as (client, _):
        response = await client.request(method, "/mcp", headers=bearer(name))
    assert response.status_code == status
    assert response.headers.get("www-authenticate") == challenge


async def test_malformed_json_with_a_token_is_invalid_request() -> None:
    async with protected() as (client, _):
        response = await client.post("/mcp", content=b"{oops", headers=bearer("read"))
    assert response.status_code == 400
    assert response.headers["www-authenticate"] == bad_request("body is not JSON")


@pytest.mark.parametrize(
    ("url", "headers", "content", "description"),
    [
        (
            "/mcp?access_token=read",
            {},
            None,
            "access tokens are accepted in the Authorization header only",
        ),
        ("/mcp?access_token=read", bearer("read"), None, "more than one credential in the request"),
        (
            "/mcp",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"access_token=read",
            "access tokens are accepted in the Authorization header only",
        ),
        (
            "/mcp",
            {**bearer("read"), "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            b"access_token=read",
            "more than one credential in the request",
        ),
        ("/mcp", {"Authorization": "Bearer two words"}, None, "malformed Authorization header"),
        ("/mcp", {"Authorization": "Bearer"}, None, "malformed Authorization header"),
    ],
)
async def test_credentials_outside_the_header_are_refused(
    url: str, headers: dict[str, str], content: bytes | None, description: str
) -> None:
    body = content if content is not None else json.dumps(rpc("ping")).encode()
    async with protected() as (client, middleware):
        response = await client.post(url, content=body, headers=headers)
    assert response.status_code == 400
    assert response.headers["www-authenticate"] == bad_request(description)
    assert middleware.verifier.seen == []  # type: ignore[attr-defined]


async def test_two_authorization_headers_are_refused() -> None:
    async with protected() as (client, _):
        response = await client.post(
            "/mcp",
            content=json.dumps(rpc("ping")),
            headers=[("Authorization", "Bearer read"), ("Authorization", "Bearer exec")],
        )
    assert response.status_code == 400
    assert response.headers["www-authenticate"] == bad_request(
        "more than one credential in the request"
    )


async def test_unknown_methods_can_be_denied() -> None:
    from ostiary.resource.policy import ScopePolicy

    async with protected(policy=ScopePolicy(unknown="deny")) as (client, _):
        denied = await client.post(
            "/mcp", content=json.dumps(rpc("completion/complete")), headers=bearer("write")
        )
        allowed = await client.post(
            "/mcp", content=json.dumps(rpc("ping")), headers=bearer("empty")
        )
    assert denied.status_code == 403
    assert "www-authenticate" not in denied.headers
    assert denied.json()["error_description"] == "method completion/complete is not allowed"
    assert allowed.status_code == 200
