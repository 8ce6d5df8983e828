"""Reading request parameters: each at most once (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ostiary.core.errors import InvalidRequest

Params = Mapping[str, Sequence[str]]
MAX_PARAM_LENGTH = 4096


def optional(params: Params, name: str) -> str | None:
    """The single value of ``name``, or None; repeated or oversized values are refused."""
    values = params.get(name, ())
    if len(values) > 1:
        raise InvalidRequest(f"{name} is repeated")
    if not values or values[0] == "":
        return None
    if len(values[0]) > MAX_PARAM_LENGTH:
        raise InvalidRequest(f"{name} is too long")
    return values[0]


def required(params: Params, name: str) -> str:
    value = optional(params, name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


def repeated(params: Params, name: str) -> list[str]:
    """All values of a parameter that may repeat (``resource``, RFC 8707 §2)."""
    values = [v for v in params.get(name, ()) if v]
    if any(len(v) > MAX_PARAM_LENGTH for v in values):
        raise InvalidRequest(f"{name} is too long")
    return values
