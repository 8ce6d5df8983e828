"""CLI errors: one clear line and a non-zero exit, never a traceback.

Exit codes: 1 a user error (bad input, unknown name), 2 usage (click's own), 3 the
database or secret file cannot be opened.
"""

from __future__ import annotations

import click


class CliError(click.ClickException):
    exit_code = 1


class StoreUnavailable(click.ClickException):
    exit_code = 3
