"""An MCP client session over streamable HTTP, signed in with ``OAuthClient``.

The official ``mcp`` SDK's client does the protocol; ``OAuth2`` (``httpx_auth``) adds the
token to every request and handles 401 and 403 on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ostiary.client.httpx_auth import OAuth2
from ostiary.client.oauth import OAuthClient

TIMEOUT = httpx2.Timeout(30.0, read=300.0)


@asynccontextmanager
async def connect(client: OAuthClient) -> AsyncIterator[ClientSession]:
    """An initialized ``ClientSession`` with ``client``'s server."""
    async with (
        httpx2.AsyncClient(auth=OAuth2(client), timeout=TIMEOUT) as http,
        streamable_http_client(client.server_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
