"""The authorization request (PKCE, state, query) and the callback rules (REQ-CL-12/14/16)."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest

from ostiary.client.authorization import (
    PendingAuthorization,
    check_callback,
    check_redirect_uri,
    code_challenge,
    new_authorization,
    parse_redirect,
)
from ostiary.client.errors import AuthorizationError
from ostiary.client.models import ServerMetadata

ISSUER = "https://as.example.com"
REDIRECT = "http://127.0.0.1:8765/callback"
RESOURCE = "https://mcp.example.com/mcp"


def server(endpoint: str = f"{ISSUER}/authorize", *, iss: bool = False) -> ServerMetadata:
    return ServerMetadata(
        issuer=ISSUER,
        authorization_endpoint=endpoint,
        token_endpoint=f"{ISSUER}/token",
        authorization_response_iss_parameter_supported=iss,
    )


def counting_bytes() -> Callable[[int], bytes]:
    """Distinct, predictable 'random' bytes: call n gives n repeated."""
    calls = count(1)
    return lambda n: bytes([next(calls)]) * n


def pending(*, iss_required: bool = False) -> PendingAuthorization:
    return PendingAuthorization(
        state="the-state",
        code_verifier="v" * 43,
        redirect_uri=REDIRECT,
        issuer=ISSUER,
        iss_required=iss_required,
        resource=RESOURCE,
        scope=None,
        url=f"{ISSUER}/authorize?x=1",
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_pkce_vector_from_rfc_7636_appendix_b() -> None:
    # RFC 7636 Appendix B (the challenge has "...Melhoa2...").
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_new_authorization_builds_the_full_request() -> None:
    p = new_authorization(
        server(iss=True),
        client_id="cli ent",
        redirect_uri=REDIRECT,
        resource=RESOURCE,
        scope="read write",
        token_bytes=counting_bytes(),
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", p.code_verifier)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", p.state)
    assert p.state != p.code_verifier
    assert (p.issuer, p.iss_required, p.resource, p.scope) == (ISSUER, True, RESOURCE, "read write")
    assert p.url.startswith(f"{ISSUER}/authorize?")
    assert query(p.url) == {
        "response_type": ["code"],
        "client_id": ["cli ent"],
        "redirect_uri": [REDIRECT],
        "code_challenge": [code_challenge(p.code_verifier)],
        "code_challenge_method": ["S256"],
        "state": [p.state],
        "resource": [RESOURCE],
        "scope": ["read write"],
    }


def test_each_request_is_fresh_with_real_randomness() -> None:
    a, b = (
        new_authorization(
            server(), client_id="c", redirect_uri=REDIRECT, resource=RESOURCE, scope=None
        )
        for _ in range(2)
    )
    assert a.state != b.state
    assert a.code_verifier != b.code_verifier


@pytest.mark.parametrize("scope", [None, ""], ids=["none", "empty"])
def test_scope_is_left_out_when_there_is_none(scope: str | None) -> None:
    p = new_authorization(
        server(), client_id="c", redirect_uri=REDIRECT, resource=RESOURCE, scope=scope
    )
    assert "scope" not in query(p.url)
    assert p.scope is None


@pytest.mark.parametrize(
    ("endpoint", "prefix"),
    [
        pytest.param(f"{ISSUER}/authorize?tenant=a", f"{ISSUER}/authorize?tenant=a&", id="query"),
        pytest.param(f"{ISSUER}/authorize#frag", f"{ISSUER}/authorize?response_type", id="frag"),
        pytest.param(f"{ISSUER}/a?t=1#f", f"{ISSUER}/a?t=1&response_type", id="both"),
    ],
)
def test_endpoint_query_is_kept_and_fragment_dropped(endpoint: str, prefix: str) -> None:
    p = new_authorization(
        server(endpoint), client_id="c", redirect_uri=REDIRECT, resource=RESOURCE, scope=None
    )
    assert p.url.startswith(prefix)
    assert "#" not in p.url


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/cb",
        "http://127.0.0.1:1234/callback",
        "http://[::1]:1234/callback",
        "http://localhost:1234/callback",
    ],
)
def test_redirect_uri_accepted(uri: str) -> None:
    check_redirect_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/cb",
        "http://127.0.0.1.example.com/cb",
        "com.example.app:/cb",
        "https://app.example.com/cb#x",
        "/callback",
    ],
)
def test_redirect_uri_refused(uri: str) -> None:
    with pytest.raises(AuthorizationError):
        check_redirect_uri(uri)


# REQ-CL-16 / RFC 9207 §2.4: the four cases, byte-exact comparison.
@pytest.mark.parametrize(
    ("required", "iss", "ok"),
    [
        pytest.param(True, ISSUER, True, id="required-present-equal"),
        pytest.param(True, None, False, id="required-absent"),
        pytest.param(True, "https://evil.example.com", False, id="required-present-other"),
        pytest.param(False, ISSUER, True, id="not-required-present-equal"),
        pytest.param(False, "https://evil.example.com", False, id="not-required-present-other"),
        pytest.param(False, None, True, id="both-absent"),
        pytest.param(True, ISSUER + "/", False, id="trailing-slash-not-normalised"),
        pytest.param(True, "HTTPS://AS.EXAMPLE.COM", False, id="case-not-folded"),
        pytest.param(True, "https://as.example.com:443", False, id="port-not-elided"),
        pytest.param(True, "https://as%2Eexample.com", False, id="percent-not-decoded"),
        pytest.param(True, "https://às.example.com", False, id="non-ascii"),
    ],
)
def test_iss_rules(required: bool, iss: str | None, ok: bool) -> None:
    params = {"code": "the-code", "state": "the-state"}
    if iss is not None:
        params["iss"] = iss
    if ok:
        assert check_callback(params, pending(iss_required=required)) == "the-code"
    else:
        with pytest.raises(AuthorizationError, match="mix-up"):
            check_callback(params, pending(iss_required=required))


@pytest.mark.parametrize("required", [True, False])
def test_iss_mismatch_hides_the_error_text(required: bool) -> None:
    params = {
        "state": "the-state",
        "iss": "https://evil.example.com",
        "error": "access_denied",
        "error_description": "call 555-EVIL for support",
        "error_uri": "https://evil.example.com/help",
    }
    with pytest.raises(AuthorizationError) as raised:
        check_callback(params, pending(iss_required=required))
    message = str(raised.value)
    assert "access_denied" not in message
    assert "EVIL" not in message
    assert "evil.example.com" not in message


@pytest.mark.parametrize(
    "state",
    [None, "", "the-stat", "the-state ", "THE-STATE", "the-staté"],
    ids=["missing", "empty", "prefix", "space", "case", "non-ascii"],
)
def test_state_must_match_exactly(state: str | None) -> None:
    params = {"code": "c", "error": "access_denied", "error_description": "hidden"}
    if state is not None:
        params["state"] = state
    with pytest.raises(AuthorizationError, match="state") as raised:
        check_callback(params, pending())
    assert "hidden" not in str(raised.value)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {"error": "access_denied"},
            "the authorization was declined (access_denied)",
            id="declined",
        ),
        pytest.param(
            {"error": "invalid_scope", "error_description": "no such scope: x"},
            "the server refused the requested scope (invalid_scope: no such scope: x)",
            id="with-description",
        ),
        pytest.param(
            {"error": "made_up"},
            "the authorization server refused (made_up)",
            id="unknown-code",
        ),
    ],
)
def test_error_answer_names_the_code(params: dict[str, str], expected: str) -> None:
    with pytest.raises(AuthorizationError) as raised:
        check_callback({"state": "the-state", "iss": ISSUER, **params}, pending())
    assert str(raised.value) == expected


@pytest.mark.parametrize("code", [None, ""], ids=["missing", "empty"])
def test_no_code_is_refused(code: str | None) -> None:
    params = {"state": "the-state"}
    if code is not None:
        params["code"] = code
    with pytest.raises(AuthorizationError, match="neither a code"):
        check_callback(params, pending())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "http://127.0.0.1:1/callback?code=a%2Bb&state=s+t",
            {"code": "a+b", "state": "s t"},
            id="decoded",
        ),
        pytest.param(
            "  http://127.0.0.1:1/callback?code=&state=s\n",
            {"code": "", "state": "s"},
            id="blank-kept-and-stripped",
        ),
    ],
)
def test_parse_redirect(url: str, expected: dict[str, str]) -> None:
    assert parse_redirect(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/callback?code=a&code=b", "http://127.0.0.1:1/callback", ""],
    ids=["repeated", "no-query", "empty"],
)
def test_parse_redirect_refuses(url: str) -> None:
    with pytest.raises(AuthorizationError):
        parse_redirect(url)
