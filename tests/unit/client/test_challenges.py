"""``WWW-Authenticate`` parsing (REQ-CL-1): a table of real and hostile header values."""

from __future__ import annotations

import pytest

from ostiary.client.challenges import bearer_challenge, parse_www_authenticate

Parsed = list[tuple[str, dict[str, str]]]

CASES: list[tuple[str, list[str], Parsed]] = [
    ("empty list", [], []),
    ("empty value", [""], []),
    ("only spaces and commas", [" , ,, "], []),
    ("bare scheme", ["Bearer"], [("bearer", {})]),
    (
        "typical MCP challenge",
        [
            'Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp",'
            ' scope="files:read files:write"'
        ],
        [
            (
                "bearer",
                {
                    "resource_metadata": "https://mcp.example/.well-known/oauth-protected-resource/mcp",
                    "scope": "files:read files:write",
                },
            )
        ],
    ),
    ("scheme case-insensitive", ["bEaReR realm=x"], [("bearer", {"realm": "x"})]),
    (
        "param names lower-cased",
        ['Bearer ERROR="invalid_token"'],
        [("bearer", {"error": "invalid_token"})],
    ),
    (
        "token value",
        ["Bearer error=insufficient_scope"],
        [("bearer", {"error": "insufficient_scope"})],
    ),
    (
        "spaces around =",
        ['Bearer error = "x" , scope= y'],
        [("bearer", {"error": "x", "scope": "y"})],
    ),
    (
        "comma inside quotes",
        ['Bearer error_description="a, b, c", error="invalid_token"'],
        [("bearer", {"error_description": "a, b, c", "error": "invalid_token"})],
    ),
    (
        "escaped quote and backslash",
        [r'Bearer error_description="say \"hi\" \\ bye", realm=r'],
        [("bearer", {"error_description": 'say "hi" \\ bye', "realm": "r"})],
    ),
    ("empty quoted value", ['Bearer realm=""'], [("bearer", {"realm": ""})]),
    (
        "Basic before Bearer in one value",
        ['Basic realm="basic, realm", Bearer scope="a b", error="insufficient_scope"'],
        [
            ("basic", {"realm": "basic, realm"}),
            ("bearer", {"scope": "a b", "error": "insufficient_scope"}),
        ],
    ),
    (
        "two header values",
        ['Basic realm="x"', 'Bearer resource_metadata="https://a/m"'],
        [("basic", {"realm": "x"}), ("bearer", {"resource_metadata": "https://a/m"})],
    ),
    (
        "RFC 9110 example",
        ['Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'],
        [
            ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
            ("basic", {"realm": "simple"}),
        ],
    ),
    (
        "token68 ignored",
        ["Basic dXNlcjpwYXNz==, Bearer realm=x"],
        [("basic", {}), ("bearer", {"realm": "x"})],
    ),
    ("token68 without padding", ["Negotiate abc/def+ghi"], [("negotiate", {})]),
    ("schemes without params", ["Basic, Bearer"], [("basic", {}), ("bearer", {})]),
    (
        "missing comma between challenges",
        ['Basic realm="a" Bearer scope="s"'],
        [("basic", {"realm": "a"}), ("bearer", {"scope": "s"})],
    ),
    ("unterminated quote", ['Bearer scope="a b, error=x'], [("bearer", {"scope": "a b, error=x"})]),
    (
        "trailing backslash in unterminated quote",
        ['Bearer scope="a\\'],
        [("bearer", {"scope": "a\\"})],
    ),
    ("repeated param keeps the first", ["Bearer scope=a, scope=b"], [("bearer", {"scope": "a"})]),
    ("leading garbage", ['"junk" Bearer realm=x'], [("bearer", {"realm": "x"})]),
    ("stray = after scheme", ["Bearer =x, realm=y"], [("bearer", {"realm": "y"})]),
    (
        "stray quoted string among params",
        ['Bearer realm=a, "oops, really", scope=s'],
        [("bearer", {"realm": "a", "scope": "s"})],
    ),
    (
        "non-ASCII survives",
        ['Bearer error_description="caf\u00e9"'],
        [("bearer", {"error_description": "caf\u00e9"})],
    ),
]


@pytest.mark.parametrize(("values", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse(values: list[str], expected: Parsed) -> None:
    parsed = [(c.scheme, c.params) for c in parse_www_authenticate(values)]
    assert parsed == expected


GARBAGE = ['"', "\\", "=", ",=,=,", 'Bearer "', "Bearer a=", 'a="\\', "\x00\x01", "=" * 50, '"' * 7]


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_never_raises(value: str) -> None:
    parse_www_authenticate([value])
    bearer_challenge([value])


@pytest.mark.parametrize(
    ("values", "expected_scope"),
    [
        (['Basic realm="x"', 'BEARER scope="s1"'], "s1"),
        (['Basic realm="x", Bearer scope="s2", Bearer scope="s3"'], "s2"),
        (['Basic realm="x"'], None),
        ([], None),
    ],
    ids=["second header", "first bearer wins", "no bearer", "nothing"],
)
def test_bearer_challenge(values: list[str], expected_scope: str | None) -> None:
    challenge = bearer_challenge(values)
    if expected_scope is None:
        assert challenge is None
    else:
        assert challenge is not None
        assert challenge.scheme == "bearer"
        assert challenge.scope == expected_scope


def test_properties() -> None:
    challenge = bearer_challenge(
        ['Bearer error="insufficient_scope", scope="a", resource_metadata="https://x/prm"']
    )
    assert challenge is not None
    assert (challenge.error, challenge.scope, challenge.resource_metadata) == (
        "insufficient_scope",
        "a",
        "https://x/prm",
    )
