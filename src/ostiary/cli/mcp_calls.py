"""``ostiary tools`` and ``ostiary call``: list and call a remote MCP server's tools."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ostiary.cli.errors import CliError
from ostiary.cli.remote import build_client, client_options, emit, run_client
from ostiary.client.mcp_session import connect


@click.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@client_options
@run_client
async def tools(url: str, as_json: bool, **given: Any) -> None:
    """List the tools of the MCP server at URL."""
    client = build_client(url, given)
    try:
        async with connect(client) as session:
            listed = await session.list_tools()
    finally:
        await client.aclose()
    rows = [
        {"name": t.name, "description": t.description or "", "input_schema": t.input_schema}
        for t in listed.tools
    ]
    emit(rows, as_json, lambda rs: "\n".join(_tool_line(r) for r in rs) or "No tools.")


def _tool_line(row: dict[str, Any]) -> str:
    first = row["description"].strip().splitlines()[0] if row["description"].strip() else ""
    return f"{row['name']}" + (f"  {first}" if first else "")


def parse_arguments(pairs: tuple[str, ...], raw: str | None) -> dict[str, Any]:
    """``--json '{...}'`` first, then each ``--arg key=value`` (a JSON value, else a string)."""
    arguments: dict[str, Any] = {}
    if raw is not None:
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CliError(f"--json: not JSON ({exc.msg})") from None
        if not isinstance(loaded, dict):
            raise CliError("--json: must be a JSON object")
        arguments.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--arg {pair!r}: expected key=value")
        try:
            arguments[key] = json.loads(value)
        except json.JSONDecodeError:
            arguments[key] = value
    return arguments


@click.command()
@click.argument("url")
@click.argument("tool")
@click.option("--arg", "pairs", multiple=True, help="key=value (value as JSON, else text).")
@click.option("--json", "raw", help="All arguments as one JSON object.")
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the whole result as JSON.",
)
@client_options
@run_client
async def call(
    url: str, tool: str, pairs: tuple[str, ...], raw: str | None, output: str, **given: Any
) -> None:
    """Call TOOL on the MCP server at URL; exit 1 when the tool reports an error."""
    arguments = parse_arguments(pairs, raw)
    client = build_client(url, given)
    try:
        async with connect(client) as session:
            result = await session.call_tool(tool, arguments)
    finally:
        await client.aclose()
    if output == "json":
        click.echo(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))
    else:
        texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]  # type: ignore[union-attr]
        if result.structured_content is not None and not texts:
            texts = [json.dumps(result.structured_content, indent=2)]
        click.echo("\n".join(texts))
    if result.is_error:
        sys.exit(1)
