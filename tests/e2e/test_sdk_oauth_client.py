"""The official ``mcp`` SDK's own OAuth client against ``ostiary serve``, with nothing pre-arranged.

``OAuthClientProvider`` starts from a bare ``/mcp`` URL: it reads the 401 challenge, fetches the
protected-resource and authorization-server metadata, registers itself dynamically, sends the
person to ``/authorize``, redeems the code and retries. The person is played by an httpx client
that keeps its cookies like a browser and answers the login and consent pages; the redirect
lands on a real loopback listener, as with a native client. Later ``tools/call`` requests need
scopes the first grant lacks, so the SDK must step up on the 403 by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from tests.support.flows import CallbackListener
from tests.support.process import RunningServer, running_server
from tests.support.sdk_oauth import MemoryStorage, Person, oauth_provider


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "as") as running:
        yield running


def requested_scopes(query: dict[str, str]) -> set[str]:
    return set(query.get("scope", "").split())


async def test_the_sdk_client_discovers_registers_signs_in_and_steps_up(
    server: RunningServer, callback: CallbackListener
) -> None:
    url = f"{server.issuer}/mcp"
    person = Person(server, callback)
    storage = MemoryStorage()
    provider = oauth_provider(url, person, storage)
    try:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=15) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            assert init.server_info.name == "Ostiary notes"
            # the first grant is the baseline the 401 named: reading, not executing
            first = requested_scopes(person.requests[0])
            assert "tools:read" in first and "tools:execute" not in first
            tools = await session.list_tools()
            names = {t.name for t in tools.tools}
            assert names == {"list_notes", "read_note", "add_note", "delete_note"}
            assert len(person.requests) == 1

            added = await session.call_tool("add_note", {"title": "t", "body": "hello"})
            assert added.is_error is False, added
            # the 403 on tools/call made the SDK ask again, for the union of scopes
            second = requested_scopes(person.requests[1])
            assert first | {"tools:execute", "resources:write"} <= second
            note_id = added.structured_content["result"]

            listed = await session.call_tool("list_notes", {})
            assert listed.structured_content["result"][0]["id"] == note_id
            deleted = await session.call_tool("delete_note", {"note_id": note_id})
            assert deleted.is_error is False, deleted
            assert len(person.requests) == 2  # the widened grant covers the rest
    finally:
        person.browser.close()

    # discovery, registration and the authorization request, as the SDK did them
    assert storage.client is not None and storage.client.client_id
    assert all(q["client_id"] == storage.client.client_id for q in person.requests)
    assert all(q["resource"] == url for q in person.requests)
    assert all(q["code_challenge_method"] == "S256" for q in person.requests)
    # signed in once; the step-up only asked for consent to the new scopes
    assert person.pages == ["login", "consent", "consent"], person.pages
    assert len(storage.issued) == 2
    granted = set((storage.issued[-1].scope or "").split())
    assert {"tools:execute", "resources:write"} <= granted
    registered = server.cli("client", "list")
    assert registered.returncode == 0, registered.stderr
    assert storage.client.client_id in registered.stdout
