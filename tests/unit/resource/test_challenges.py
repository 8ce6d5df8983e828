"""Challenge formatting: attribute order, quoting, status codes and bodies."""

from __future__ import annotations

import json

import pytest

from ostiary.resource import challenges
from ostiary.resource.challenges import bearer, quote

RM = "https://h.example/.well-known/oauth-protected-resource/mcp"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\r\nbreak\ttab\x00", '"line  break tab "'),
        ("", '""'),
    ],
)
def test_quote(value: str, quoted: str) -> None:
    assert quote(value) == quoted


def test_bearer_leaves_out_absent_attributes() -> None:
    assert bearer(("a", "1"), ("b", None), ("c", "x y")) == 'Bearer a="1", c="x y"'


def test_missing_token_has_no_error_attribute() -> None:
    refusal = challenges.missing_token(RM, "tools:read prompts:read")
    assert refusal.status == 401
    assert refusal.challenge == f'Bearer resource_metadata="{RM}", scope="tools:read prompts:read"'
    assert challenges.missing_token(RM, "").challenge == f'Bearer resource_metadata="{RM}"'
    assert json.loads(refusal.body()) == {
        "error": "unauthorized",
        "error_description": "authorization required",
    }


def test_invalid_token() -> None:
    refusal = challenges.invalid_token(RM, 'token "expired"')
    assert refusal.status == 401
    assert refusal.challenge == (
        'Bearer error="invalid_token", error_description="token \\"expired\\"", '
        f'resource_metadata="{RM}"'
    )
    assert (b"www-authenticate", refusal.challenge.encode()) in refusal.headers()
    assert (b"cache-control", b"no-store") in refusal.headers()
    assert json.loads(refusal.body())["error_description"] == 'token "expired"'


def test_invalid_request() -> None:
    refusal = challenges.invalid_request(RM, "two credentials")
    assert refusal.status == 400
    assert refusal.challenge == (
        f'Bearer error="invalid_request", error_description="two credentials", '
        f'resource_metadata="{RM}"'
    )


def test_insufficient_scope_names_every_needed_scope() -> None:
    refusal = challenges.insufficient_scope(RM, "tools:execute resources:write", "more")
    assert refusal.status == 403
    assert refusal.challenge == (
        'Bearer error="insufficient_scope", scope="tools:execute resources:write", '
        f'error_description="more", resource_metadata="{RM}"'
    )


def test_non_auth_refusals_carry_no_challenge() -> None:
    for refusal, status in [
        (challenges.forbidden("origin"), 403),
        (challenges.not_found("session"), 404),
        (challenges.too_large(10), 413),
    ]:
        assert refusal.status == status
        assert all(name != b"www-authenticate" for name, _ in refusal.headers())
