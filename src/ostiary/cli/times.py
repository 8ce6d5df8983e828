"""Times on the command line: shown in UTC, given as an ISO date/time or a duration back."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ostiary.cli.errors import CliError

_DURATION = re.compile(r"(\d{1,9})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def format_time(timestamp: int | None, empty: str = "-") -> str:
    """``2026-11-27T10:00:00Z``, or ``empty`` for no time."""
    if timestamp is None:
        return empty
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_since(value: str, now: int) -> int:
    """``2026-11-27`` or ``2026-11-27T10:00[Z|+02:00]`` (UTC unless an offset is given), or
    ``30m`` / ``1h`` / ``2d`` / ``1w`` before ``now``."""
    duration = _DURATION.fullmatch(value.strip())
    if duration:
        return now - int(duration.group(1)) * _SECONDS[duration.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(
            f"--since {value!r}: give an ISO date or time (2026-11-27, 2026-11-27T10:00Z) "
            "or a duration (30m, 1h, 2d, 1w)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
