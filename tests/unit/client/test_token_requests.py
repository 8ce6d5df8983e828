"""Token requests: client authentication, the three grants, and strict response parsing."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from ostiary.client.errors import TokenError
from ostiary.client.models import ClientRegistration, ServerMetadata, TokenSet
from ostiary.client.token_requests import (
    ASSERTION_TYPE,
    basic_authorization,
    client_auth,
    client_credentials,
    exchange_code,
    refresh,
)

AS = "https://auth.example.com"
RESOURCE = "https://mcp.example.com/mcp"
NOW = 1_700_000_000
SERVER = ServerMetadata(
    issuer=AS,
    authorization_endpoint=f"{AS}/authorize",
    token_endpoint=f"{AS}/token",
    code_challenge_methods_supported=("S256",),
)
PUBLIC = ClientRegistration(client_id="pub", issuer=AS, source="dynamic")
BASIC = ClientRegistration(
    client_id="conf",
    issuer=AS,
    source="pre-registered",
    token_endpoint_auth_method="client_secret_basic",
    client_secret="s3cr3t-value",
)
POST = replace(BASIC, token_endpoint_auth_method="client_secret_post")


def pem(private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


EC_KEY = ec.generate_private_key(ec.SECP256R1())
JWT_CLIENT = ClientRegistration(
    client_id="conformance-test-client",
    issuer=AS,
    source="pre-registered",
    token_endpoint_auth_method="private_key_jwt",
    private_key_pem=pem(EC_KEY),
    signing_alg="ES256",
)


# --- client authentication --------------------------------------------------------------------


def decode_basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)


@pytest.mark.parametrize(
    ("client_id", "secret", "raw_pair"),
    [
        ("plain", "secret", "plain:secret"),
        ("id:with:colons", "pa:ss", "id%3Awith%3Acolons:pa%3Ass"),
        ("100%", "50% off", "100%25:50%25+off"),
        ("a+b/c=", "é&ü", "a%2Bb%2Fc%3D:%C3%A9%26%C3%BC"),
    ],
    ids=["plain", "colons", "percent and space", "reserved and non-ascii"],
)
def test_basic_authorization_form_encodes(client_id: str, secret: str, raw_pair: str) -> None:
    header = basic_authorization(client_id, secret)
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == raw_pair
    assert decode_basic(header) == (client_id, secret)


@pytest.mark.parametrize(
    ("registration", "form", "has_header"),
    [
        (PUBLIC, {"client_id": "pub"}, False),
        (BASIC, {}, True),
        (POST, {"client_id": "conf", "client_secret": "s3cr3t-value"}, False),
    ],
    ids=["none", "basic", "post"],
)
def test_client_auth_secret_methods(
    registration: ClientRegistration, form: dict[str, str], has_header: bool
) -> None:
    fields, headers = client_auth(registration, SERVER, now=NOW, jti="j")
    assert fields == form
    assert ("Authorization" in headers) is has_header
    if has_header:
        assert decode_basic(headers["Authorization"]) == ("conf", "s3cr3t-value")


def test_private_key_jwt_assertion_verifies_with_public_key() -> None:
    fields, headers = client_auth(JWT_CLIENT, SERVER, now=NOW, jti="unique-1")
    assert headers == {}
    assert fields["client_assertion_type"] == ASSERTION_TYPE
    assert fields["client_id"] == "conformance-test-client"
    token = jwt.decode(
        fields["client_assertion"], ECKey.import_key(public_pem(EC_KEY)), algorithms=["ES256"]
    )
    assert token.header["alg"] == "ES256"
    assert token.claims == {
        "iss": "conformance-test-client",
        "sub": "conformance-test-client",
        "aud": AS,
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "unique-1",
    }


def test_private_key_jwt_rsa() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    registration = replace(JWT_CLIENT, private_key_pem=pem(key), signing_alg="RS256")
    fields, _ = client_auth(registration, SERVER, now=NOW, jti="j")
    token = jwt.decode(
        fields["client_assertion"], RSAKey.import_key(public_pem(key)), algorithms=["RS256"]
    )
    assert token.claims["aud"] == AS


def test_private_key_jwt_default_alg_is_es256() -> None:
    fields, _ = client_auth(replace(JWT_CLIENT, signing_alg=None), SERVER, now=NOW, jti="j")
    token = jwt.decode(
        fields["client_assertion"], ECKey.import_key(public_pem(EC_KEY)), algorithms=["ES256"]
    )
    assert token.header["alg"] == "ES256"


@pytest.mark.parametrize(
    ("registration", "fragment"),
    [
        (replace(BASIC, client_secret=None), "no client_secret"),
        (replace(POST, client_secret=""), "no client_secret"),
        (replace(JWT_CLIENT, private_key_pem=None), "no private key"),
        (replace(JWT_CLIENT, signing_alg="HS256"), "HS256"),
        (replace(JWT_CLIENT, private_key_pem="not a key"), "Could not sign"),
        (replace(PUBLIC, token_endpoint_auth_method="tls_client_auth"), "tls_client_auth"),
    ],
    ids=[
        "basic no secret",
        "post empty secret",
        "jwt no key",
        "jwt hmac",
        "jwt bad pem",
        "unknown",
    ],
)
def test_client_auth_misconfigured(registration: ClientRegistration, fragment: str) -> None:
    with pytest.raises(TokenError, match=fragment):
        client_auth(registration, SERVER, now=NOW, jti="j")


def test_bad_pem_message_shows_no_key_material() -> None:
    secret_pem = (
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----"
    )
    with pytest.raises(TokenError) as info:
        client_auth(replace(JWT_CLIENT, private_key_pem=secret_pem), SERVER, now=NOW, jti="j")
    assert "c2VjcmV0" not in str(info.value)


# --- grants over HTTP -------------------------------------------------------------------------


class TokenEndpoint:
    """An authorization server's token endpoint: answers ``status``/``answer``, records requests."""

    def __init__(self, status: int = 200, answer: Any = None) -> None:
        self.status = status
        self.answer = (
            answer
            if answer is not None
            else {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}
        )
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, str):
            return httpx.Response(self.status, text=self.answer)
        return httpx.Response(self.status, json=self.answer)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.requests[-1].content.decode()))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


async def test_exchange_code_request_and_response() -> None:
    endpoint = TokenEndpoint(
        answer={
            "access_token": "at-1",
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": "rt-1",
            "scope": "a b",
        }
    )
    async with endpoint.client() as http:
        tokens = await exchange_code(
            http,
            SERVER,
            PUBLIC,
            code="the-code",
            code_verifier="v" * 43,
            redirect_uri="http://127.0.0.1:3000/callback",
            resource=RESOURCE,
            now=NOW,
        )
    request = endpoint.requests[0]
    assert request.method == "POST" and str(request.url) == f"{AS}/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert "authorization" not in request.headers
    assert endpoint.form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "code_verifier": "v" * 43,
        "redirect_uri": "http://127.0.0.1:3000/callback",
        "resource": RESOURCE,
        "client_id": "pub",
    }
    assert tokens == TokenSet(
        access_token="at-1",
        token_type="Bearer",
        expires_at=NOW + 3600,
        refresh_token="rt-1",
        scope="a b",
        obtained_at=NOW,
    )


async def test_exchange_code_with_basic_records_requested_scope() -> None:
    endpoint = TokenEndpoint(answer={"access_token": "at", "token_type": "Bearer"})
    async with endpoint.client() as http:
        tokens = await exchange_code(
            http,
            SERVER,
            BASIC,
            code="c",
            code_verifier="v",
            redirect_uri="http://127.0.0.1/cb",
            resource=RESOURCE,
            now=NOW,
            scope="mcp:basic",
        )
    assert decode_basic(endpoint.requests[0].headers["authorization"]) == ("conf", "s3cr3t-value")
    assert "client_id" not in endpoint.form and "client_secret" not in endpoint.form
    assert tokens.scope == "mcp:basic"
    assert tokens.expires_at is None and tokens.refresh_token is None


@pytest.mark.parametrize(
    ("answer", "expected_refresh"),
    [
        ({"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2"}, "rt-2"),
        ({"access_token": "at-2", "token_type": "Bearer"}, "rt-1"),
    ],
    ids=["rotated", "kept"],
)
async def test_refresh(answer: dict[str, Any], expected_refresh: str) -> None:
    endpoint = TokenEndpoint(answer=answer)
    previous = TokenSet(access_token="at-1", refresh_token="rt-1", scope="a b")
    async with endpoint.client() as http:
        tokens = await refresh(http, SERVER, POST, previous=previous, resource=RESOURCE, now=NOW)
    assert endpoint.form == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "resource": RESOURCE,
        "client_id": "conf",
        "client_secret": "s3cr3t-value",
    }
    assert tokens.access_token == "at-2"
    assert tokens.refresh_token == expected_refresh
    assert tokens.scope == "a b"


async def test_refresh_with_narrower_scope() -> None:
    endpoint = TokenEndpoint()
    previous = TokenSet(access_token="at-1", refresh_token="rt-1", scope="a b")
    async with endpoint.client() as http:
        tokens = await refresh(
            http, SERVER, PUBLIC, previous=previous, resource=RESOURCE, now=NOW, scope="a"
        )
    assert endpoint.form["scope"] == "a"
    assert tokens.scope == "a"


async def test_refresh_without_refresh_token() -> None:
    async with TokenEndpoint().client() as http:
        with pytest.raises(TokenError, match="no refresh token"):
            await refresh(http, SERVER, PUBLIC, previous=TokenSet("at"), resource=RESOURCE, now=NOW)


async def test_client_credentials_with_private_key_jwt() -> None:
    endpoint = TokenEndpoint(answer={"access_token": "cc-1", "token_type": "Bearer"})
    async with endpoint.client() as http:
        tokens = await client_credentials(
            http, SERVER, JWT_CLIENT, scope="mcp:basic", resource=RESOURCE, now=NOW
        )
    form = endpoint.form
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "mcp:basic" and form["resource"] == RESOURCE
    assert form["client_assertion_type"] == ASSERTION_TYPE
    claims = jwt.decode(
        form["client_assertion"], ECKey.import_key(public_pem(EC_KEY)), algorithms=["ES256"]
    ).claims
    assert claims["iss"] == claims["sub"] == "conformance-test-client"
    assert claims["aud"] == AS
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert tokens == TokenSet("cc-1", scope="mcp:basic", obtained_at=NOW)


async def test_client_credentials_without_scope_omits_it() -> None:
    endpoint = TokenEndpoint()
    async with endpoint.client() as http:
        await client_credentials(http, SERVER, BASIC, scope=None, resource=RESOURCE, now=NOW)
    assert endpoint.form == {"grant_type": "client_credentials", "resource": RESOURCE}


# --- errors -----------------------------------------------------------------------------------

SECRETS = ("s3cr3t-value", "the-code", "verifier-xyz")


async def exchange_with(
    endpoint: TokenEndpoint, registration: ClientRegistration = POST
) -> TokenSet:
    async with endpoint.client() as http:
        return await exchange_code(
            http,
            SERVER,
            registration,
            code="the-code",
            code_verifier="verifier-xyz",
            redirect_uri="http://127.0.0.1/cb",
            resource=RESOURCE,
            now=NOW,
        )


@pytest.mark.parametrize("status", [400, 401])
async def test_oauth_error_surfaced(status: int) -> None:
    endpoint = TokenEndpoint(
        status, {"error": "invalid_grant", "error_description": "code expired"}
    )
    with pytest.raises(TokenError) as info:
        await exchange_with(endpoint)
    assert info.value.error == "invalid_grant"
    assert "invalid_grant" in str(info.value) and "code expired" in str(info.value)


@pytest.mark.parametrize("registration", [POST, BASIC], ids=["post", "basic"])
async def test_echoed_secrets_are_blanked(registration: ClientRegistration) -> None:
    """A server that quotes the request back must not put our secrets into the message."""
    echo = "got code=the-code verifier=verifier-xyz secret=s3cr3t-value"
    for endpoint in (
        TokenEndpoint(400, {"error": "invalid_client", "error_description": echo}),
        TokenEndpoint(500, echo),
    ):
        with pytest.raises(TokenError) as info:
            await exchange_with(endpoint, registration)
        message = str(info.value)
        assert not any(secret in message for secret in SECRETS), message
        assert "[redacted]" in message


@pytest.mark.parametrize(
    ("status", "answer", "fragment"),
    [
        (500, "Internal Server Error", "500: Internal Server Error"),
        (503, "", "(empty body)"),
        (400, "<html>bad request</html>", "400: <html>bad request"),
        (403, {"error": "access_denied"}, "403"),
        (302, "", "redirect"),
        (200, "not json", "without a JSON object"),
        (200, ["a"], "without a JSON object"),
        (200, {"token_type": "Bearer"}, "no access_token"),
        (200, {"access_token": 5, "token_type": "Bearer"}, "no access_token"),
        (200, {"access_token": "at"}, "token_type"),
        (200, {"access_token": "at", "token_type": "DPoP"}, "'DPoP'"),
        (200, {"access_token": "at", "token_type": "mac"}, "only Bearer"),
        (200, {"access_token": "at", "token_type": "Bearer", "expires_in": "3600"}, "expires_in"),
        (200, {"access_token": "at", "token_type": "Bearer", "expires_in": True}, "expires_in"),
        (200, {"access_token": "at", "token_type": "Bearer", "expires_in": -1}, "expires_in"),
        (200, {"access_token": "at", "token_type": "Bearer", "refresh_token": 1}, "refresh_token"),
        (200, {"access_token": "at", "token_type": "Bearer", "scope": ["a"]}, "scope"),
    ],
    ids=[
        "500",
        "503 empty",
        "400 html",
        "403 json",
        "redirect",
        "200 text",
        "200 list",
        "no access token",
        "access token not string",
        "no token type",
        "dpop",
        "mac",
        "expires_in string",
        "expires_in bool",
        "expires_in negative",
        "refresh not string",
        "scope not string",
    ],
)
async def test_bad_responses(status: int, answer: Any, fragment: str) -> None:
    with pytest.raises(TokenError) as info:
        await exchange_with(TokenEndpoint(status, answer))
    assert fragment in str(info.value)


async def test_200_errors_never_quote_the_body() -> None:
    endpoint = TokenEndpoint(200, {"access_token": "leaked-at", "token_type": "weird"})
    with pytest.raises(TokenError) as info:
        await exchange_with(endpoint)
    assert "leaked-at" not in str(info.value)


async def test_network_error() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        with pytest.raises(TokenError, match="ReadTimeout"):
            await client_credentials(http, SERVER, BASIC, scope=None, resource=RESOURCE, now=NOW)
