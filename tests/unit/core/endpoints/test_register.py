"""Dynamic Client Registration (RFC 7591 §3) in the core: every refusal, every default.

RFC 7591 §3.2.2 decides the two error codes: ``invalid_redirect_uri`` for anything wrong with
``redirect_uris`` (including a mismatch with ``application_type``, OIDC Registration §2), and
``invalid_client_metadata`` for every other field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ostiary.core.deps import Deps
from ostiary.core.endpoints.register import RegistrationResponse, register_client
from ostiary.core.models import ApplicationType, AuthMethod, GrantType
from ostiary.core.registration import InvalidClientMetadata, InvalidRedirectUri
from ostiary.core.scopes import format_scope
from ostiary.crypto.tokens import TokenHasher
from ostiary.storage.memory import MemoryStorage

LOOPBACK = "http://127.0.0.1:33418/callback"
WEB = "https://app.example.com/cb"
EC_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}


class Recorder:
    """An ``EventSink`` that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str | None, str]] = []

    async def emit(
        self,
        event: str,
        outcome: str,
        *,
        user_id: str | None = None,
        client_id: str | None = None,
        grant_id: str | None = None,
        detail: str = "",
    ) -> None:
        self.events.append((event, outcome, client_id, detail))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def reg_deps(deps: Deps, recorder: Recorder) -> Deps:
    return dataclasses.replace(deps, events=recorder)


def public(**fields: Any) -> dict[str, Any]:
    """A valid public-client registration (what MCP clients send), with ``fields`` on top."""
    return {
        "client_name": "Desktop",
        "redirect_uris": [LOOPBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        **fields,
    }


REDIRECT = "invalid_redirect_uri"
METADATA = "invalid_client_metadata"
LONG = "x" * 201
LONG_URI = "https://app.example.com/" + "a" * 2000

REFUSALS = [
    # the body
    pytest.param([], METADATA, "JSON object", id="body-array"),
    pytest.param("text", METADATA, "JSON object", id="body-string"),
    # redirect_uris
    pytest.param(public(redirect_uris=None), REDIRECT, "required", id="redirect-missing"),
    pytest.param(public(redirect_uris=[]), REDIRECT, "required", id="redirect-empty"),
    pytest.param(public(redirect_uris=LOOPBACK), REDIRECT, "array", id="redirect-not-array"),
    pytest.param(public(redirect_uris=[1]), REDIRECT, "array", id="redirect-not-string"),
    pytest.param(public(redirect_uris=[""]), REDIRECT, "non-empty", id="redirect-empty-string"),
    pytest.param(
        public(redirect_uris=[f"http://127.0.0.1:{1000 + n}/cb" for n in range(11)]),
        REDIRECT,
        "at most 10",
        id="redirect-too-many",
    ),
    pytest.param(public(redirect_uris=[LONG_URI]), REDIRECT, "2000", id="redirect-too-long"),
    pytest.param(public(redirect_uris=["javascript:alert(1)"]), REDIRECT, "scheme", id="js"),
    pytest.param(public(redirect_uris=["data:text/html,x"]), REDIRECT, "scheme", id="data"),
    pytest.param(public(redirect_uris=["file:///etc/passwd"]), REDIRECT, "scheme", id="file"),
    pytest.param(public(redirect_uris=["vbscript:x"]), REDIRECT, "scheme", id="vbscript"),
    pytest.param(
        public(redirect_uris=["http://app.example.com/cb"]), REDIRECT, "loopback", id="plain-http"
    ),
    pytest.param(
        public(redirect_uris=["https://*.example.com/cb"]), REDIRECT, "forbidden", id="wildcard"
    ),
    pytest.param(
        public(redirect_uris=["https://a.example/c\x00b"]),
        REDIRECT,
        "control",
        id="control-character",
    ),
    pytest.param(
        public(redirect_uris=["https://a.example/c b"]), REDIRECT, "forbidden", id="space"
    ),
    pytest.param(public(redirect_uris=[f"{WEB}#x"]), REDIRECT, "fragment", id="fragment"),
    pytest.param(public(redirect_uris=["https://u@a.example/cb"]), REDIRECT, "user", id="userinfo"),
    pytest.param(public(redirect_uris=["/cb"]), REDIRECT, "scheme", id="relative"),
    pytest.param(public(redirect_uris=["https:///cb"]), REDIRECT, "scheme", id="https-no-host"),
    pytest.param(
        public(redirect_uris=["com.example.app:"]), REDIRECT, "malformed", id="custom-scheme-empty"
    ),
    pytest.param(
        public(redirect_uris=["https://a.example:99999/"]), REDIRECT, "malformed", id="bad-port"
    ),
    # application_type against redirect kinds (OIDC Registration §2)
    pytest.param(public(application_type="web"), REDIRECT, "web client", id="web-loopback"),
    pytest.param(
        public(application_type="web", redirect_uris=["https://localhost/cb"]),
        REDIRECT,
        "web client",
        id="web-https-localhost",
    ),
    pytest.param(
        public(application_type="web", redirect_uris=["com.example.app:/cb"]),
        REDIRECT,
        "only for native",
        id="web-custom-scheme",
    ),
    pytest.param(
        public(redirect_uris=[WEB, "com.example.app:/cb"]),
        REDIRECT,
        "only for native",
        id="omitted-mixed-custom-scheme",
    ),
    pytest.param(
        public(redirect_uris=[WEB, LOOPBACK]), REDIRECT, "web client", id="omitted-mixed-loopback"
    ),
    pytest.param(
        public(application_type="native", redirect_uris=[WEB]),
        REDIRECT,
        "native",
        id="native-https",
    ),
    pytest.param(public(application_type="desktop"), METADATA, "web or native", id="app-type"),
    # token_endpoint_auth_method
    pytest.param(
        public(token_endpoint_auth_method="client_secret_jwt"),
        METADATA,
        "token_endpoint_auth_method",
        id="auth-method-unsupported",
    ),
    pytest.param(
        public(token_endpoint_auth_method=1),
        METADATA,
        "token_endpoint_auth_method",
        id="auth-method-not-string",
    ),
    # grant_types / response_types
    pytest.param(public(grant_types=[]), METADATA, "grant_types", id="grants-empty"),
    pytest.param(public(grant_types="authorization_code"), METADATA, "array", id="grants-string"),
    pytest.param(public(grant_types=["implicit"]), METADATA, "grant_types", id="implicit"),
    pytest.param(public(grant_types=["password"]), METADATA, "grant_types", id="password"),
    pytest.param(
        public(grant_types=["refresh_token"], response_types=[], redirect_uris=[]),
        METADATA,
        "only offered with authorization_code",
        id="refresh-alone",
    ),
    pytest.param(
        public(grant_types=["client_credentials"], response_types=[], redirect_uris=[]),
        METADATA,
        "confidential",
        id="client-credentials-public",
    ),
    pytest.param(public(response_types=["token"]), METADATA, "only code", id="response-token"),
    pytest.param(
        public(response_types=["code", "id_token"]), METADATA, "only code", id="response-id-token"
    ),
    pytest.param(public(response_types=[]), METADATA, "go together", id="code-grant-no-code"),
    pytest.param(
        public(
            token_endpoint_auth_method="client_secret_basic",
            grant_types=["client_credentials"],
            redirect_uris=[],
        ),
        METADATA,
        "go together",
        id="code-without-code-grant",
    ),
    pytest.param(
        public(
            token_endpoint_auth_method="client_secret_basic",
            grant_types=["client_credentials"],
            response_types=[],
        ),
        REDIRECT,
        "only for the authorization_code",
        id="redirects-without-code-grant",
    ),
    # scope
    pytest.param(public(scope="tools:read admin"), METADATA, "unknown scope: admin", id="scope"),
    pytest.param(public(scope="tools:read  x"), METADATA, "space-separated", id="scope-malformed"),
    pytest.param(public(scope=["tools:read"]), METADATA, "string", id="scope-not-string"),
    # names and informational fields
    pytest.param(public(client_name=LONG), METADATA, "at most 200", id="name-too-long"),
    pytest.param(public(client_name=""), METADATA, "non-empty", id="name-empty"),
    pytest.param(public(client_name="a\nb"), METADATA, "control", id="name-control"),
    pytest.param(public(client_name=7), METADATA, "string", id="name-not-string"),
    pytest.param(
        public(logo_uri="http://app.example.com/logo.png"), METADATA, "https", id="logo-http"
    ),
    pytest.param(public(client_uri="javascript:alert(1)"), METADATA, "http(s)", id="client-uri-js"),
    pytest.param(public(tos_uri="https://a.example/tos#x"), METADATA, "fragment", id="tos-frag"),
    pytest.param(public(policy_uri="/policy"), METADATA, "absolute", id="policy-relative"),
    pytest.param(public(client_uri=LONG_URI), METADATA, "2000", id="client-uri-too-long"),
    pytest.param(public(contacts="a@example.com"), METADATA, "array", id="contacts-string"),
    pytest.param(
        public(contacts=[f"{n}@example.com" for n in range(6)]),
        METADATA,
        "at most 5",
        id="contacts-too-many",
    ),
    pytest.param(public(contacts=["x" * 321]), METADATA, "320", id="contact-too-long"),
    pytest.param(public(software_id=LONG), METADATA, "at most 200", id="software-id-too-long"),
    pytest.param(public(software_version=3), METADATA, "string", id="software-version-number"),
    # jwks / jwks_uri
    pytest.param(
        public(jwks={"keys": [EC_KEY]}),
        METADATA,
        "only with private_key_jwt",
        id="jwks-without-private-key-jwt",
    ),
    pytest.param(
        public(token_endpoint_auth_method="private_key_jwt"),
        METADATA,
        "exactly one",
        id="private-key-jwt-no-keys",
    ),
    pytest.param(
        public(
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [EC_KEY]},
            jwks_uri="https://app.example.com/jwks",
        ),
        METADATA,
        "exactly one",
        id="private-key-jwt-both",
    ),
    pytest.param(
        public(
            token_endpoint_auth_method="private_key_jwt", jwks_uri="http://app.example.com/jwks"
        ),
        METADATA,
        "https",
        id="jwks-uri-http",
    ),
    pytest.param(
        public(token_endpoint_auth_method="private_key_jwt", jwks={"keys": []}),
        METADATA,
        "1 to 10",
        id="jwks-empty",
    ),
    pytest.param(
        public(token_endpoint_auth_method="private_key_jwt", jwks=[EC_KEY]),
        METADATA,
        "JWK Set",
        id="jwks-not-a-set",
    ),
    pytest.param(
        public(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [{"x": 1}]}),
        METADATA,
        "kty",
        id="jwks-no-kty",
    ),
    pytest.param(
        public(
            token_endpoint_auth_method="private_key_jwt", jwks={"keys": [{**EC_KEY, "d": "secret"}]}
        ),
        METADATA,
        "public",
        id="jwks-private-key",
    ),
    pytest.param(
        public(
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
        ),
        METADATA,
        "public",
        id="jwks-symmetric",
    ),
]


@pytest.mark.parametrize(("metadata", "error", "message"), REFUSALS)
async def test_refusals(
    reg_deps: Deps, recorder: Recorder, metadata: Any, error: str, message: str
) -> None:
    storage = reg_deps.storage
    assert isinstance(storage, MemoryStorage)
    expected = InvalidRedirectUri if error == REDIRECT else InvalidClientMetadata
    with pytest.raises(expected) as caught:
        await register_client(metadata, reg_deps)
    assert caught.value.error == error
    assert caught.value.status_code == 400
    assert message in (caught.value.description or "")
    assert storage.clients == {}
    ((event, outcome, client_id, detail),) = recorder.events
    assert (event, outcome, client_id) == ("client_registered", "failure", None)
    assert detail.startswith(f"{error}: ")


async def test_public_native_client(
    reg_deps: Deps, storage: MemoryStorage, recorder: Recorder
) -> None:
    result = await register_client(public(), reg_deps)

    body = result.to_json()
    client_id = body["client_id"]
    assert not client_id.startswith("https://")
    assert body == {
        "client_id": client_id,
        "client_id_issued_at": reg_deps.clock.now(),
        "client_name": "Desktop",
        "redirect_uris": [LOOPBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "native",  # omitted, every redirect URI loopback
        "scope": format_scope(reg_deps.config.scopes_supported),
    }
    stored = storage.clients[client_id]
    assert stored.dynamic is True
    assert stored.is_public
    assert stored.secret_hash is None
    assert stored.application_type is ApplicationType.NATIVE
    assert stored.last_used_at is None
    assert stored.created_at == reg_deps.clock.now()
    assert recorder.events == [("client_registered", "success", client_id, "")]


async def test_rfc_defaults_make_a_confidential_client_with_a_hashed_secret(
    reg_deps: Deps, storage: MemoryStorage, hasher: TokenHasher
) -> None:
    result = await register_client({"redirect_uris": [WEB]}, reg_deps)

    body = result.to_json()
    # RFC 7591 §2: client_secret_basic and authorization_code when omitted; OIDC: web.
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]
    assert body["application_type"] == "web"
    assert "client_name" not in body
    secret = body["client_secret"]
    assert len(secret) >= 32
    assert body["client_secret_expires_at"] == 0
    stored = storage.clients[body["client_id"]]
    assert stored.token_endpoint_auth_method is AuthMethod.CLIENT_SECRET_BASIC
    assert stored.secret_hash == hasher.hash(secret)
    assert secret not in repr(stored)
    assert stored.grant_types == (GrantType.AUTHORIZATION_CODE,)


async def test_client_secret_post_and_client_credentials(
    reg_deps: Deps, storage: MemoryStorage
) -> None:
    result = await register_client(
        {"token_endpoint_auth_method": "client_secret_post", "grant_types": ["client_credentials"]},
        reg_deps,
    )

    body = result.to_json()
    assert body["response_types"] == []
    assert body["redirect_uris"] == []
    assert body["application_type"] == "web"
    stored = storage.clients[body["client_id"]]
    assert stored.grant_types == (GrantType.CLIENT_CREDENTIALS,)
    assert stored.token_endpoint_auth_method is AuthMethod.CLIENT_SECRET_POST


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        pytest.param({"jwks": {"keys": [EC_KEY]}}, "jwks", id="jwks"),
        pytest.param({"jwks_uri": "https://app.example.com/jwks.json"}, "jwks_uri", id="jwks_uri"),
    ],
)
async def test_private_key_jwt_keeps_its_keys_and_gets_no_secret(
    reg_deps: Deps, storage: MemoryStorage, keys: dict[str, Any], field: str
) -> None:
    metadata = public(token_endpoint_auth_method="private_key_jwt", **keys)
    result = await register_client(metadata, reg_deps)

    body = result.to_json()
    assert "client_secret" not in body
    assert body[field] == keys[field]
    stored = storage.clients[body["client_id"]]
    assert stored.token_endpoint_auth_method is AuthMethod.PRIVATE_KEY_JWT
    assert stored.secret_hash is None
    assert (stored.jwks, stored.jwks_uri) == (keys.get("jwks"), keys.get("jwks_uri"))


@pytest.mark.parametrize(
    ("declared", "uris", "expected"),
    [
        pytest.param(None, [LOOPBACK, "http://localhost/cb"], "native", id="omitted-loopback"),
        pytest.param(None, ["com.example.app:/oauth"], "native", id="omitted-custom-scheme"),
        pytest.param(None, [WEB], "web", id="omitted-https"),
        pytest.param("native", [LOOPBACK, "http://[::1]:9/cb"], "native", id="native-loopback"),
        pytest.param("native", ["cursor://anysphere.cursor/cb"], "native", id="native-custom"),
        pytest.param("web", [WEB, "https://app.example.com:8443/x?y=1"], "web", id="web-https"),
    ],
)
async def test_application_type(
    reg_deps: Deps, declared: str | None, uris: list[str], expected: str
) -> None:
    metadata = public(redirect_uris=uris, application_type=declared)
    body = (await register_client(metadata, reg_deps)).to_json()
    assert body["application_type"] == expected
    assert body["redirect_uris"] == uris


async def test_extra_metadata_is_stored_and_echoed_and_unknown_fields_ignored(
    reg_deps: Deps, storage: MemoryStorage
) -> None:
    extra = {
        "client_uri": "https://app.example.com",
        "logo_uri": "https://app.example.com/logo.png",
        "tos_uri": "http://app.example.com/tos",
        "policy_uri": "https://app.example.com/privacy",
        "contacts": ["ops@example.com"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1",
    }
    metadata = public(
        scope="tools:read prompts:read",
        client_id="https://chosen.example",  # server-assigned fields are ignored
        client_secret="chosen",
        frobnicate={"nested": True},  # RFC 7591 §2: unknown metadata is ignored
        **extra,
    )
    result = await register_client(metadata, reg_deps)

    body = result.to_json()
    assert {k: body[k] for k in extra} == extra
    assert "frobnicate" not in body
    assert body["client_id"] != "https://chosen.example"
    assert "client_secret" not in body
    stored = storage.clients[body["client_id"]]
    assert stored.extra_metadata == extra


async def test_a_client_that_signs_people_in_is_not_bound_to_its_first_scope(
    reg_deps: Deps, storage: MemoryStorage
) -> None:
    """MCP clients register with the 401's baseline scope and must step up later."""
    body = (await register_client(public(scope="tools:read"), reg_deps)).to_json()
    assert body["scope"] == format_scope(reg_deps.config.scopes_supported)  # substituted
    assert storage.clients[body["client_id"]].scope is None


async def test_a_client_credentials_client_is_bound_to_its_scope(
    reg_deps: Deps, storage: MemoryStorage
) -> None:
    metadata = {
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["client_credentials"],
        "scope": "tools:read prompts:read",
    }
    body = (await register_client(metadata, reg_deps)).to_json()
    assert body["scope"] == "tools:read prompts:read"
    stored = storage.clients[body["client_id"]]
    assert stored.scope == frozenset({"tools:read", "prompts:read"})


async def test_duplicates_collapse_and_null_means_omitted(
    reg_deps: Deps, storage: MemoryStorage
) -> None:
    metadata = public(redirect_uris=[LOOPBACK, LOOPBACK], scope=None, logo_uri=None)
    body = (await register_client(metadata, reg_deps)).to_json()
    assert body["redirect_uris"] == [LOOPBACK]
    assert body["scope"] == format_scope(reg_deps.config.scopes_supported)
    assert storage.clients[body["client_id"]].scope is None


def test_response_json_is_the_echo_not_the_secret_hash() -> None:
    from ostiary.core.models import Client, ClientId

    client = Client(ClientId("c"), "n", (WEB,), secret_hash="hash", created_at=5)
    body = RegistrationResponse(client, "s3cret").to_json()
    assert body["client_secret"] == "s3cret"
    assert "hash" not in body.values()
    assert "secret_hash" not in body
