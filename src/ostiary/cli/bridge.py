"""``ostiary bridge URL``: serve a remote protected MCP server to a stdio-only client."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import click

from ostiary.cli.remote import build_client, client_options, run_client
from ostiary.client.bridge import bridge as run_bridge


@click.command()
@click.argument("url")
@client_options
@run_client
async def bridge(url: str, **given: Any) -> None:
    """Forward MCP over stdio to the server at URL, signing in as needed.

    Put ``ostiary bridge https://host/mcp`` in a desktop client's server configuration.
    """
    logging.basicConfig(level=logging.WARNING, format="ostiary bridge: %(message)s")
    client = build_client(url, given)
    # stdin is the MCP stream: with --no-browser the sign-in URL is printed, but a pasted
    # address is never read from stdin (it would swallow the client's messages)
    client.options = replace(client.options, paste=False)
    try:
        await run_bridge(client)
    finally:
        await client.aclose()
