"""A session id is bound to the user who opened it and is never a credential (SEC-10)."""

from __future__ import annotations

import json

from .mcp_app import bearer, protected, rpc

INIT = json.dumps(rpc("initialize"))
LIST = json.dumps(rpc("tools/list"))


async def test_session_is_bound_to_its_opener() -> None:
    async with protected() as (client, middleware):
        opened = await client.post("/mcp", content=INIT, headers=bearer("read"))
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}

        same_user = await client.post("/mcp", content=LIST, headers={**bearer("read"), **session})
        # another token of the same user (same issuer and subject) may use it
        same_subject = await client.get("/mcp", headers={**bearer("exec"), **session})
        other_user = await client.post("/mcp", content=LIST, headers={**bearer("bob"), **session})
        other_user_get = await client.get("/mcp", headers={**bearer("bob"), **session})
        no_token = await client.post("/mcp", content=LIST, headers=session)
        invented = await client.post(
            "/mcp", content=LIST, headers={**bearer("read"), "Mcp-Session-Id": "made-up"}
        )
        assert len(middleware.sessions) == 1

        ended = await client.delete("/mcp", headers={**bearer("read"), **session})
        after_end = await client.post("/mcp", content=LIST, headers={**bearer("read"), **session})

    assert opened.status_code == 200
    assert same_user.status_code == 200
    assert same_subject.status_code == 200
    assert other_user.status_code == 404
    assert other_user.json()["error_description"] == "session not found"
    assert other_user_get.status_code == 404
    assert invented.status_code == 404
    assert no_token.status_code == 401  # the session id is no credential
    assert ended.status_code == 204
    assert after_end.status_code == 404
    assert len(middleware.sessions) == 0


async def test_session_map_is_bounded() -> None:
    async with protected(max_sessions=2) as (client, middleware):
        ids = []
        for _ in range(3):
            opened = await client.post("/mcp", content=INIT, headers=bearer("read"))
            ids.append(opened.headers["mcp-session-id"])
        oldest = await client.post(
            "/mcp", content=LIST, headers={**bearer("read"), "Mcp-Session-Id": ids[0]}
        )
        newest = await client.post(
            "/mcp", content=LIST, headers={**bearer("read"), "Mcp-Session-Id": ids[2]}
        )
    assert len(middleware.sessions) == 2
    assert oldest.status_code == 404
    assert newest.status_code == 200
