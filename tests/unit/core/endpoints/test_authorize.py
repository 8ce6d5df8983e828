"""The authorization endpoint: every error path, the error and success redirects.

Failures before the client and redirect URI are verified raise ``UnsafeRedirectError`` (an
error page, never a redirect, RFC 6749 §4.1.2.1); later ones raise ``RedirectError`` carrying
the verified redirect URI and the ``state`` exactly as sent.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ostiary.core.endpoints.authorize import (
    AuthorizationRequest,
    deny,
    error_redirect,
    issue_authorization_code,
    validate_authorization_request,
)
from ostiary.core.errors import (
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    RedirectError,
    UnauthorizedClient,
    UnsafeRedirectError,
    UnsupportedResponseType,
)
from ostiary.core.models import GrantType
from ostiary.core.params import MAX_PARAM_LENGTH

from ...support import (
    ALL_SCOPES,
    CHALLENGE,
    ISSUER,
    OTHER_RESOURCE,
    PUBLIC_ID,
    PUBLIC_REDIRECT,
    RESOURCE,
    STATE,
    USER_ID,
    Harness,
    authorize_params,
    query_of,
    register_public_client,
    storage_dump,
    with_changes,
)

MULTI_ID = "multi-app"
MULTI_REDIRECTS = ("https://multi.example.com/a", "https://multi.example.com/b")
LOOPBACK_ID = "loopback-app"
LOOPBACK = "http://127.0.0.1:1234/cb"
LOOPBACK_V6 = "http://[::1]:1234/cb"
HTTPS_LOOPBACK_ID = "https-loopback-app"
HTTPS_LOOPBACK = "https://127.0.0.1:1234/cb"
LIMITED_ID = "limited-app"
LIMITED_SCOPE = frozenset({"tools:read", "prompts:read", "custom:unsupported"})
NO_CODE_ID = "no-code-app"
QUERY_ID = "query-app"
QUERY_REDIRECT = "https://query.example.com/cb?tenant=acme"

Changes = Mapping[str, list[str] | None]


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    await register_public_client(h.storage)
    await register_public_client(h.storage, MULTI_ID, MULTI_REDIRECTS)
    await register_public_client(h.storage, LOOPBACK_ID, (LOOPBACK, LOOPBACK_V6))
    await register_public_client(h.storage, HTTPS_LOOPBACK_ID, (HTTPS_LOOPBACK,))
    await register_public_client(h.storage, LIMITED_ID, scope=LIMITED_SCOPE)
    await register_public_client(h.storage, NO_CODE_ID, grant_types=(GrantType.CLIENT_CREDENTIALS,))
    await register_public_client(h.storage, QUERY_ID, (QUERY_REDIRECT,))


def request_params(client_id: str, changes: Changes) -> dict[str, list[str]]:
    redirect = {
        PUBLIC_ID: PUBLIC_REDIRECT,
        MULTI_ID: MULTI_REDIRECTS[0],
        LOOPBACK_ID: LOOPBACK,
        HTTPS_LOOPBACK_ID: HTTPS_LOOPBACK,
        LIMITED_ID: PUBLIC_REDIRECT,
        NO_CODE_ID: PUBLIC_REDIRECT,
        QUERY_ID: QUERY_REDIRECT,
    }[client_id]
    return with_changes(authorize_params(client_id, redirect), changes)


# --- before the redirect URI is trusted: never a redirect --------------------------------

UNSAFE_CASES = [
    pytest.param(PUBLIC_ID, {"client_id": None}, "client_id is required", id="missing-client_id"),
    pytest.param(PUBLIC_ID, {"client_id": [""]}, "client_id is required", id="empty-client_id"),
    pytest.param(
        PUBLIC_ID,
        {"client_id": [PUBLIC_ID, PUBLIC_ID]},
        "client_id is repeated",
        id="repeated-client_id",
    ),
    pytest.param(PUBLIC_ID, {"client_id": ["nobody"]}, "unknown client_id", id="unknown-client_id"),
    pytest.param(
        PUBLIC_ID,
        {"client_id": ["PUBLIC-APP"]},
        "unknown client_id",
        id="client_id-is-case-sensitive",
    ),
    pytest.param(
        MULTI_ID,
        {"redirect_uri": None},
        "redirect_uri is required",
        id="missing-redirect_uri-with-two-registered",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": ["https://evil.example.com/callback"]},
        "redirect_uri is not registered for this client",
        id="unregistered-redirect_uri",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": [PUBLIC_REDIRECT, PUBLIC_REDIRECT]},
        "redirect_uri is repeated",
        id="repeated-redirect_uri",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": ["x" * (MAX_PARAM_LENGTH + 1)]},
        "redirect_uri is too long",
        id="oversized-redirect_uri",
    ),
    pytest.param(
        MULTI_ID,
        {"redirect_uri": [MULTI_REDIRECTS[1] + "x"]},
        "redirect_uri is not registered for this client",
        id="near-miss-of-second-registered",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": [PUBLIC_REDIRECT + "/../evil"]},
        "redirect_uri is not registered for this client",
        id="open-redirect-dot-segments",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": [PUBLIC_REDIRECT + "?x=1"]},
        "redirect_uri is not registered for this client",
        id="open-redirect-added-query",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": [PUBLIC_REDIRECT + "/"]},
        "redirect_uri is not registered for this client",
        id="open-redirect-trailing-slash",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": [PUBLIC_REDIRECT + "#frag"]},
        "redirect_uri is not registered for this client",
        id="added-fragment",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": ["https://app.example.com.evil.com/callback"]},
        "redirect_uri is not registered for this client",
        id="open-redirect-host-suffix",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": ["https://app.example.com@evil.com/callback"]},
        "redirect_uri is not registered for this client",
        id="open-redirect-userinfo",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": ["http://app.example.com/callback"]},
        "redirect_uri is not registered for this client",
        id="https-downgraded-to-http",
    ),
    pytest.param(
        PUBLIC_ID,
        {"redirect_uri": ["https://app.example.com:8443/callback"]},
        "redirect_uri is not registered for this client",
        id="non-loopback-port-changed",
    ),
    pytest.param(
        LOOPBACK_ID,
        {"redirect_uri": ["http://127.0.0.1:5555/other"]},
        "redirect_uri is not registered for this client",
        id="loopback-other-path",
    ),
    pytest.param(
        LOOPBACK_ID,
        {"redirect_uri": ["https://127.0.0.1:5555/cb"]},
        "redirect_uri is not registered for this client",
        id="loopback-other-scheme",
    ),
    pytest.param(
        LOOPBACK_ID,
        {"redirect_uri": ["http://localhost:5555/cb"]},
        "redirect_uri is not registered for this client",
        id="loopback-other-host",
    ),
    pytest.param(
        LOOPBACK_ID,
        {"redirect_uri": ["http://evil.com@127.0.0.1:5555/cb"]},
        "redirect_uri is not registered for this client",
        id="loopback-userinfo",
    ),
    pytest.param(
        LOOPBACK_ID,
        {"redirect_uri": ["http://127.0.0.1:5555/cb?x=1"]},
        "redirect_uri is not registered for this client",
        id="loopback-added-query",
    ),
    pytest.param(
        HTTPS_LOOPBACK_ID,
        {"redirect_uri": ["https://127.0.0.1:5555/cb"]},
        "redirect_uri is not registered for this client",
        id="https-loopback-port-not-relaxed",
    ),
    pytest.param(
        MULTI_ID,
        {"redirect_uri": None, "response_type": ["token"], "code_challenge": None},
        "redirect_uri is required",
        id="redirect_uri-checked-before-other-errors",
    ),
]


@pytest.mark.parametrize(("client_id", "changes", "description"), UNSAFE_CASES)
async def test_unverified_client_or_redirect_uri_is_never_redirected(
    h: Harness, client_id: str, changes: Changes, description: str
) -> None:
    with pytest.raises(UnsafeRedirectError) as caught:
        await validate_authorization_request(request_params(client_id, changes), h.deps)
    assert not isinstance(caught.value, RedirectError)
    assert type(caught.value.error) is InvalidRequest
    assert caught.value.error.description == description


# --- after the redirect URI is trusted: errors go back to the client -----------------------

REDIRECT_CASES = [
    pytest.param(PUBLIC_ID, {"response_type": None}, InvalidRequest, id="missing-response_type"),
    pytest.param(
        PUBLIC_ID,
        {"response_type": ["code", "code"]},
        InvalidRequest,
        id="repeated-response_type",
    ),
    pytest.param(
        PUBLIC_ID, {"response_type": ["token"]}, UnsupportedResponseType, id="implicit-token"
    ),
    pytest.param(
        PUBLIC_ID,
        {"response_type": ["code id_token"]},
        UnsupportedResponseType,
        id="hybrid-code-id_token",
    ),
    pytest.param(
        PUBLIC_ID, {"response_type": ["CODE"]}, UnsupportedResponseType, id="uppercase-code"
    ),
    pytest.param(NO_CODE_ID, {}, UnauthorizedClient, id="client-without-authorization_code-grant"),
    pytest.param(PUBLIC_ID, {"code_challenge": None}, InvalidRequest, id="missing-challenge"),
    pytest.param(
        PUBLIC_ID,
        {"code_challenge": [CHALLENGE, CHALLENGE]},
        InvalidRequest,
        id="repeated-challenge",
    ),
    pytest.param(
        PUBLIC_ID, {"code_challenge_method": ["plain"]}, InvalidRequest, id="plain-method"
    ),
    pytest.param(PUBLIC_ID, {"code_challenge_method": None}, InvalidRequest, id="missing-method"),
    pytest.param(
        PUBLIC_ID, {"code_challenge_method": ["s256"]}, InvalidRequest, id="lowercase-method"
    ),
    pytest.param(
        PUBLIC_ID,
        {"code_challenge": [CHALLENGE[:-1]]},
        InvalidRequest,
        id="malformed-challenge-too-short",
    ),
    pytest.param(
        PUBLIC_ID,
        {"code_challenge": [CHALLENGE + "="]},
        InvalidRequest,
        id="malformed-challenge-padded",
    ),
    pytest.param(
        PUBLIC_ID,
        {"code_challenge": ["a" * 42 + "!"]},
        InvalidRequest,
        id="malformed-challenge-charset",
    ),
    pytest.param(PUBLIC_ID, {"scope": ["admin"]}, InvalidScope, id="unknown-scope"),
    pytest.param(
        PUBLIC_ID, {"scope": ["tools:read admin"]}, InvalidScope, id="one-unknown-among-known"
    ),
    pytest.param(
        LIMITED_ID,
        {"scope": ["tools:read tools:execute"]},
        InvalidScope,
        id="scope-beyond-client-allowed",
    ),
    pytest.param(
        LIMITED_ID,
        {"scope": ["custom:unsupported"]},
        InvalidScope,
        id="client-scope-not-supported-by-server",
    ),
    pytest.param(
        PUBLIC_ID, {"scope": ["tools:read  tools:execute"]}, InvalidScope, id="malformed-scope"
    ),
    pytest.param(PUBLIC_ID, {"scope": ['tools:"read']}, InvalidScope, id="scope-with-quote"),
    pytest.param(
        PUBLIC_ID, {"scope": ["tools:read", "tools:read"]}, InvalidRequest, id="repeated-scope"
    ),
    pytest.param(
        PUBLIC_ID,
        {"resource": ["https://unknown.example.com/mcp"]},
        InvalidTarget,
        id="unknown-resource",
    ),
    pytest.param(
        PUBLIC_ID, {"resource": [RESOURCE + "#section"]}, InvalidTarget, id="resource-fragment"
    ),
    pytest.param(PUBLIC_ID, {"resource": ["/mcp"]}, InvalidTarget, id="relative-resource"),
    pytest.param(
        PUBLIC_ID,
        {"resource": [RESOURCE, OTHER_RESOURCE]},
        InvalidTarget,
        id="two-different-resources",
    ),
    pytest.param(
        PUBLIC_ID, {"resource": ["urn:example:mcp"]}, InvalidTarget, id="non-http-resource"
    ),
    pytest.param(
        PUBLIC_ID,
        {"resource": ["https://[::1/mcp"]},
        InvalidTarget,
        id="unparseable-resource",
    ),
    pytest.param(
        PUBLIC_ID,
        {"resource": ["https://as.example.com/" + "m" * MAX_PARAM_LENGTH]},
        InvalidRequest,
        id="oversized-resource",
    ),
    pytest.param(
        PUBLIC_ID,
        {"code_challenge": None, "scope": ["admin"], "resource": ["/x"]},
        InvalidRequest,
        id="pkce-checked-before-scope-and-resource",
    ),
]


@pytest.mark.parametrize(("client_id", "changes", "expected"), REDIRECT_CASES)
async def test_error_after_redirect_uri_is_verified_is_redirected(
    h: Harness, client_id: str, changes: Changes, expected: type[OAuthError]
) -> None:
    params = request_params(client_id, changes)
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    assert type(caught.value.error) is expected
    assert caught.value.redirect_uri == params["redirect_uri"][0]
    assert caught.value.state == STATE


async def test_repeated_state_is_refused_and_not_echoed(h: Harness) -> None:
    params = request_params(PUBLIC_ID, {"state": ["a", "b"]})
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    assert type(caught.value.error) is InvalidRequest
    assert caught.value.error.description == "state is repeated"
    assert caught.value.redirect_uri == PUBLIC_REDIRECT
    assert caught.value.state is None


async def test_error_goes_to_the_only_registered_uri_when_omitted(h: Harness) -> None:
    params = request_params(PUBLIC_ID, {"redirect_uri": None, "response_type": ["token"]})
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    assert caught.value.redirect_uri == PUBLIC_REDIRECT


async def test_error_goes_to_the_loopback_port_actually_requested(h: Harness) -> None:
    params = request_params(
        LOOPBACK_ID, {"redirect_uri": ["http://127.0.0.1:5555/cb"], "scope": ["admin"]}
    )
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    assert caught.value.redirect_uri == "http://127.0.0.1:5555/cb"


async def test_missing_state_is_allowed_and_stays_absent(h: Harness) -> None:
    params = request_params(PUBLIC_ID, {"state": None, "scope": ["admin"]})
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    assert caught.value.state is None
    assert "state" not in query_of(error_redirect(caught.value, ISSUER))


# --- accepted requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "expected_uri", "given"),
    [
        pytest.param(PUBLIC_ID, PUBLIC_REDIRECT, PUBLIC_REDIRECT, True, id="exact"),
        pytest.param(PUBLIC_ID, None, PUBLIC_REDIRECT, False, id="omitted-single-registered"),
        pytest.param(
            MULTI_ID, MULTI_REDIRECTS[1], MULTI_REDIRECTS[1], True, id="second-of-two-registered"
        ),
        pytest.param(
            LOOPBACK_ID,
            "http://127.0.0.1:5555/cb",
            "http://127.0.0.1:5555/cb",
            True,
            id="loopback-any-port",
        ),
        pytest.param(
            LOOPBACK_ID, "http://127.0.0.1/cb", "http://127.0.0.1/cb", True, id="loopback-no-port"
        ),
        pytest.param(
            LOOPBACK_ID,
            "http://[::1]:40000/cb",
            "http://[::1]:40000/cb",
            True,
            id="ipv6-loopback-any-port",
        ),
        pytest.param(
            HTTPS_LOOPBACK_ID, HTTPS_LOOPBACK, HTTPS_LOOPBACK, True, id="https-loopback-exact"
        ),
        pytest.param(QUERY_ID, QUERY_REDIRECT, QUERY_REDIRECT, True, id="registered-with-query"),
    ],
)
async def test_accepted_redirect_uris(
    h: Harness, client_id: str, redirect_uri: str | None, expected_uri: str, given: bool
) -> None:
    request = await validate_authorization_request(
        authorize_params(client_id, redirect_uri), h.deps
    )
    assert request.client.client_id == client_id
    assert request.redirect_uri == expected_uri
    assert request.redirect_uri_given is given
    assert request.state == STATE
    assert request.code_challenge == CHALLENGE


@pytest.mark.parametrize(
    ("client_id", "scope", "expected"),
    [
        pytest.param(PUBLIC_ID, None, ALL_SCOPES, id="default-is-every-supported-scope"),
        pytest.param(PUBLIC_ID, [""], ALL_SCOPES, id="empty-scope-is-default"),
        pytest.param(
            LIMITED_ID,
            None,
            frozenset({"tools:read", "prompts:read"}),
            id="default-is-client-scope-intersect-supported",
        ),
        pytest.param(
            PUBLIC_ID,
            ["tools:read tools:execute"],
            frozenset({"tools:read", "tools:execute"}),
            id="explicit",
        ),
        pytest.param(
            LIMITED_ID, ["prompts:read"], frozenset({"prompts:read"}), id="explicit-within-limit"
        ),
    ],
)
async def test_scope_selection(
    h: Harness, client_id: str, scope: list[str] | None, expected: frozenset[str]
) -> None:
    params = request_params(client_id, {"scope": scope})
    request = await validate_authorization_request(params, h.deps)
    assert request.scopes == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param(None, RESOURCE, id="default-is-first-resource"),
        pytest.param([OTHER_RESOURCE], OTHER_RESOURCE, id="second-resource"),
        pytest.param(["HTTPS://AS.EXAMPLE.COM/mcp/"], RESOURCE, id="case-and-slash-normalised"),
        pytest.param([RESOURCE, RESOURCE + "/"], RESOURCE, id="same-resource-twice"),
        pytest.param([""], RESOURCE, id="empty-resource-is-default"),
    ],
)
async def test_resource_selection(h: Harness, resource: list[str] | None, expected: str) -> None:
    request = await validate_authorization_request(
        request_params(PUBLIC_ID, {"resource": resource}), h.deps
    )
    assert request.resource == expected


# --- the redirects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        pytest.param("plain", id="plain"),
        pytest.param("with spaces  twice", id="spaces"),
        pytest.param("a&b=c&error=fake", id="ampersand-and-equals"),
        pytest.param("ünïcödé ✓ 状態", id="unicode"),
        pytest.param("%20+%2B#frag?q", id="percent-plus-hash"),
        pytest.param("  padded\t", id="leading-and-trailing-whitespace"),
    ],
)
async def test_error_redirect_carries_error_state_and_iss(h: Harness, state: str) -> None:
    params = request_params(PUBLIC_ID, {"state": [state], "scope": ["admin"]})
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    url = error_redirect(caught.value, ISSUER)
    assert url.startswith(PUBLIC_REDIRECT + "?")
    assert query_of(url) == {
        "error": ["invalid_scope"],
        "error_description": ["scope not allowed: admin"],
        "state": [state],
        "iss": [ISSUER],
    }


async def test_error_redirect_keeps_the_registered_query(h: Harness) -> None:
    params = request_params(QUERY_ID, {"response_type": ["token"]})
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    url = error_redirect(caught.value, ISSUER)
    assert url.startswith("https://query.example.com/cb?tenant=acme&")
    query = query_of(url)
    assert query["tenant"] == ["acme"]
    assert query["error"] == ["unsupported_response_type"]
    assert query["iss"] == [ISSUER]


async def valid_request(
    h: Harness, client_id: str = PUBLIC_ID, **changes: list[str] | None
) -> AuthorizationRequest:
    return await validate_authorization_request(request_params(client_id, changes), h.deps)


async def test_deny_redirects_access_denied(h: Harness) -> None:
    request = await valid_request(h, state=["s t&u"])
    query = query_of(deny(request, ISSUER))
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s t&u"]
    assert query["iss"] == [ISSUER]


async def test_success_redirect_has_code_state_and_iss(h: Harness) -> None:
    request = await valid_request(h, state=[" a b&c ✓ "])
    url = await issue_authorization_code(request, USER_ID, request.scopes, h.deps)
    assert url.startswith(PUBLIC_REDIRECT + "?")
    query = query_of(url)
    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == [" a b&c ✓ "]
    assert query["iss"] == [ISSUER]
    assert len(query["code"][0]) >= 43


async def test_success_redirect_without_state_omits_it(h: Harness) -> None:
    request = await valid_request(h, state=None)
    query = query_of(await issue_authorization_code(request, USER_ID, request.scopes, h.deps))
    assert set(query) == {"code", "iss"}


async def test_success_redirect_keeps_the_registered_query(h: Harness) -> None:
    request = await valid_request(h, QUERY_ID)
    url = await issue_authorization_code(request, USER_ID, request.scopes, h.deps)
    assert url.startswith("https://query.example.com/cb?tenant=acme&code=")
    query = query_of(url)
    assert query["tenant"] == ["acme"]
    assert query["state"] == [STATE]


async def test_code_is_stored_only_as_a_hash(h: Harness) -> None:
    request = await valid_request(h)
    url = await issue_authorization_code(request, USER_ID, request.scopes, h.deps)
    code = query_of(url)["code"][0]
    assert code not in storage_dump(h.storage)
    assert list(h.storage.codes) == [h.hasher.hash(code)]
    assert h.storage.codes[h.hasher.hash(code)].code_hash != code


async def test_code_and_grant_records(h: Harness) -> None:
    request = await valid_request(h, resource=[OTHER_RESOURCE])
    scopes = frozenset({"tools:read"})
    url = await issue_authorization_code(request, USER_ID, scopes, h.deps)
    record = h.storage.codes[h.hasher.hash(query_of(url)["code"][0])]
    assert record.client_id == PUBLIC_ID
    assert record.user_id == USER_ID
    assert record.redirect_uri == PUBLIC_REDIRECT
    assert record.code_challenge == CHALLENGE
    assert record.resource == OTHER_RESOURCE
    assert record.scopes == scopes
    assert record.created_at == h.clock.now()
    assert record.expires_at == h.clock.now() + h.deps.config.code_ttl
    assert record.consumed_at is None
    grant = h.storage.grants[record.grant_id]
    assert (grant.user_id, grant.client_id, grant.scopes) == (USER_ID, PUBLIC_ID, scopes)
    assert grant.resource == OTHER_RESOURCE
    assert grant.revoked_at is None


async def test_omitted_redirect_uri_is_recorded_as_omitted(h: Harness) -> None:
    request = await valid_request(h, redirect_uri=None)
    url = await issue_authorization_code(request, USER_ID, request.scopes, h.deps)
    assert url.startswith(PUBLIC_REDIRECT + "?")
    record = h.storage.codes[h.hasher.hash(query_of(url)["code"][0])]
    assert record.redirect_uri == ""


async def test_each_code_is_unique(h: Harness) -> None:
    request = await valid_request(h)
    codes = {
        query_of(await issue_authorization_code(request, USER_ID, request.scopes, h.deps))["code"][
            0
        ]
        for _ in range(3)
    }
    assert len(codes) == 3
    assert len(h.storage.grants) == 3


async def test_oversized_state_is_refused_and_not_echoed(h: Harness) -> None:
    params = request_params(PUBLIC_ID, {"state": ["x" * (MAX_PARAM_LENGTH + 1)]})
    with pytest.raises(RedirectError) as caught:
        await validate_authorization_request(params, h.deps)
    assert type(caught.value.error) is InvalidRequest
    assert caught.value.error.description == "state is too long"
    assert caught.value.state is None
