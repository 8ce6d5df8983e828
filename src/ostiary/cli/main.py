"""The ``ostiary`` command."""

from __future__ import annotations

from typing import ClassVar

import click

from ostiary import __version__


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs."""

    COMMANDS: ClassVar[dict[str, tuple[str, str]]] = {
        "audit": ("ostiary.cli.audit", "audit"),
        "grant": ("ostiary.cli.grants", "grant_group"),
        "serve": ("ostiary.cli.serve", "serve"),
        "gateway": ("ostiary.cli.gateway", "gateway"),
        "user": ("ostiary.cli.users", "user_group"),
        "client": ("ostiary.cli.clients", "client_group"),
        "key": ("ostiary.cli.keys", "key_group"),
        "login": ("ostiary.cli.sessions", "login"),
        "logout": ("ostiary.cli.sessions", "logout"),
        "status": ("ostiary.cli.sessions", "status"),
        "token": ("ostiary.cli.sessions", "token"),
        "tools": ("ostiary.cli.mcp_calls", "tools"),
        "call": ("ostiary.cli.mcp_calls", "call"),
        "doctor": ("ostiary.cli.doctor", "doctor"),
        "bridge": ("ostiary.cli.bridge", "bridge"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.COMMANDS:
            return None
        import importlib

        module, attr = self.COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="ostiary")
def cli() -> None:
    """Ostiary: the OAuth 2.1 authorization layer for remote MCP servers."""


def main() -> None:
    cli()
