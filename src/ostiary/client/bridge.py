"""``ostiary bridge URL``: a stdio MCP server that forwards everything to a remote one.

Stdio-only MCP clients start ``ostiary bridge https://…`` as if it were a local server; each
JSON-RPC message read from stdin goes to the remote server over streamable HTTP (signed in
with ``OAuthClient``: browser sign-in on the first request if needed, refresh, step-up), and
each message from the server (answers, notifications, server-to-client requests) is written
to stdout. Nothing else ever reaches stdout; progress and errors go to stderr. The bridge
ends when stdin closes.
"""

from __future__ import annotations

import logging

import anyio
import httpx2
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server

from ostiary.client.httpx_auth import OAuth2
from ostiary.client.mcp_session import TIMEOUT
from ostiary.client.oauth import OAuthClient

log = logging.getLogger(__name__)


async def bridge(client: OAuthClient) -> None:
    async with (
        httpx2.AsyncClient(auth=OAuth2(client), timeout=TIMEOUT) as http,
        streamable_http_client(client.server_url, http_client=http) as (remote_in, remote_out),
        stdio_server() as (local_in, local_out),
        anyio.create_task_group() as tasks,
    ):

        async def upstream() -> None:
            async for message in local_in:
                if isinstance(message, Exception):
                    log.warning("ignoring a line from stdin that is not JSON-RPC: %s", message)
                    continue
                await remote_out.send(message)
            tasks.cancel_scope.cancel()

        async def downstream() -> None:
            async for message in remote_in:
                if isinstance(message, Exception):
                    log.warning("the remote server failed: %s", message)
                    continue
                await local_out.send(message)

        tasks.start_soon(upstream)
        tasks.start_soon(downstream)
