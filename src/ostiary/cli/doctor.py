"""``ostiary doctor URL``: print each step of the sign-in chain as passed or failed."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click
import httpx

from ostiary.cli.remote import build_client, client_options, run_client
from ostiary.client.doctor import diagnose


@click.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step.")
@client_options
@run_client
async def doctor(url: str, as_json: bool, **given: Any) -> None:
    """Check every step from the 401 to a tool call against URL; exit 1 on a failure."""
    client = build_client(url, given)
    failed = False
    try:
        async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
            async for check in diagnose(client, http):
                failed = failed or not check.ok
                if as_json:
                    click.echo(json.dumps(asdict(check)))
                    continue
                mark = "PASS" if check.ok else "FAIL"
                click.echo(f"{mark}  {check.step}: {check.detail}")
                if not check.ok and check.advice:
                    click.echo(f"      fix: {check.advice}")
    finally:
        await client.aclose()
    if failed:
        sys.exit(1)
