"""Scopes Ostiary knows, with the words the consent page shows for each."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ostiary.core.errors import InvalidScope

SCOPE_DESCRIPTIONS: dict[str, str] = {
    "tools:read": "See the list of tools this server offers",
    "tools:execute": "Run tools on your behalf",
    "resources:read": "Read resources (files, records, documents) this server exposes",
    "resources:write": "Create, change or delete resources on this server",
    "prompts:read": "See and use the prompt templates this server offers",
}
SUPPORTED_SCOPES: tuple[str, ...] = tuple(SCOPE_DESCRIPTIONS)

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


def parse_scope(value: str | None) -> frozenset[str]:
    """Split a space-delimited scope string, refusing malformed tokens."""
    if value is None:
        return frozenset()
    parts = value.split(" ")
    if any(not _SCOPE_TOKEN.fullmatch(part) for part in parts):
        raise InvalidScope("scope is malformed")
    return frozenset(parts)


def format_scope(scopes: Iterable[str]) -> str:
    """Scopes in a stable order: known ones in their documented order, then the rest."""
    known = [s for s in SUPPORTED_SCOPES if s in scopes]
    return " ".join(known + sorted(set(scopes) - set(SUPPORTED_SCOPES)))


def check_scopes(requested: frozenset[str], allowed: Iterable[str]) -> frozenset[str]:
    """Every requested scope must be allowed; an empty request is the caller's to default."""
    unknown = requested - frozenset(allowed)
    if unknown:
        raise InvalidScope(f"scope not allowed: {format_scope(unknown)}")
    return requested
