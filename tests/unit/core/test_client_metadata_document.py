"""Client ID Metadata Documents: every refusal with its exact error (REQ-AS-23, REQ-AS-17)."""

from __future__ import annotations

from typing import Any

import pytest

from ostiary.core.client_documents import ClientLookup, NoClientDocuments, is_document_url
from ostiary.core.client_metadata_document import check_client_id_url, client_from_document
from ostiary.core.errors import InvalidClient, InvalidRequest, OAuthError
from ostiary.core.models import ApplicationType, AuthMethod, Client, ClientId, GrantType
from ostiary.core.registration import InvalidClientMetadata, InvalidRedirectUri

URL = "https://app.example.com/oauth/client.json"
SUPPORTED = ("tools:read", "tools:execute", "prompts:read")
EC_KEY = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tw", "y": "x_FE"}


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client_id": URL,
        "client_name": "Example MCP Client",
        "redirect_uris": ["http://127.0.0.1:3000/callback"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_minimal_document_is_a_public_native_client() -> None:
    client = client_from_document(URL, document(), SUPPORTED, now=1234)
    assert client == Client(
        client_id=ClientId(URL),
        client_name="Example MCP Client",
        redirect_uris=("http://127.0.0.1:3000/callback",),
        token_endpoint_auth_method=AuthMethod.NONE,
        grant_types=(GrantType.AUTHORIZATION_CODE,),
        created_at=1234,
        application_type=ApplicationType.NATIVE,
    )
    assert client.dynamic is False and client.secret_hash is None


def test_full_document() -> None:
    client = client_from_document(
        URL,
        document(
            redirect_uris=["https://app.example.com/cb"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [EC_KEY]},
            scope="tools:read unknown:scope",
            logo_uri="https://app.example.com/logo.png",
            client_uri="https://app.example.com/",
        ),
        SUPPORTED,
    )
    assert client.token_endpoint_auth_method is AuthMethod.PRIVATE_KEY_JWT
    assert client.jwks == {"keys": [EC_KEY]}
    assert client.grant_types == (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN)
    assert client.scope == frozenset({"tools:read"})  # unknown scopes ignored
    assert client.application_type is ApplicationType.WEB
    assert client.extra_metadata == {
        "logo_uri": "https://app.example.com/logo.png",
        "client_uri": "https://app.example.com/",
    }


def test_jwks_uri_document() -> None:
    client = client_from_document(
        URL,
        document(token_endpoint_auth_method="private_key_jwt", jwks_uri="https://a.example/k"),
        SUPPORTED,
    )
    assert (client.jwks, client.jwks_uri) == (None, "https://a.example/k")


@pytest.mark.parametrize(
    ("url", "body", "error", "message"),
    [
        pytest.param(URL, ["not", "an", "object"], InvalidClientMetadata,
                     "the client metadata document must be a JSON object", id="not-object"),
        pytest.param(URL, document(client_id=None), InvalidClient,
                     "client_id in the metadata document does not match its URL",
                     id="no-client-id"),
        pytest.param(URL, document(client_id=URL + "?x"), InvalidClient,
                     "client_id in the metadata document does not match its URL", id="mismatch"),
        pytest.param(URL, document(client_id="https://APP.example.com/oauth/client.json"),
                     InvalidClient, "client_id in the metadata document does not match its URL",
                     id="no-normalisation"),
        pytest.param(URL, document(client_secret="s3cret"), InvalidClientMetadata,
                     "a client metadata document must not contain client_secret", id="secret"),
        pytest.param(URL, document(client_secret_expires_at=0), InvalidClientMetadata,
                     "a client metadata document must not contain client_secret_expires_at",
                     id="secret-expiry"),
        pytest.param(URL, document(token_endpoint_auth_method="client_secret_basic"),
                     InvalidClientMetadata,
                     "token_endpoint_auth_method must be none or private_key_jwt in a metadata "
                     "document", id="secret-basic"),
        pytest.param(URL, document(token_endpoint_auth_method="client_secret_post"),
                     InvalidClientMetadata,
                     "token_endpoint_auth_method must be none or private_key_jwt in a metadata "
                     "document", id="secret-post"),
        pytest.param(URL, document(token_endpoint_auth_method="client_secret_jwt"),
                     InvalidClientMetadata,
                     "token_endpoint_auth_method must be one of none, client_secret_basic, "
                     "client_secret_post, private_key_jwt", id="secret-jwt"),
        pytest.param(URL, document(token_endpoint_auth_method="private_key_jwt"),
                     InvalidClientMetadata, "private_key_jwt needs exactly one of jwks or jwks_uri",
                     id="jwt-without-keys"),
        pytest.param(URL, document(token_endpoint_auth_method="private_key_jwt",
                                   jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
                     InvalidClientMetadata, "jwks must hold public asymmetric keys only",
                     id="symmetric-jwk"),
        pytest.param(URL, document(jwks={"keys": [EC_KEY]}), InvalidClientMetadata,
                     "jwks and jwks_uri are accepted only with private_key_jwt",
                     id="keys-for-none"),
        pytest.param(URL, document(redirect_uris=None), InvalidRedirectUri,
                     "redirect_uris is required for the authorization_code grant",
                     id="no-redirect-uris"),
        pytest.param(URL, document(redirect_uris=[]), InvalidRedirectUri,
                     "redirect_uris is required for the authorization_code grant",
                     id="empty-redirect-uris"),
        pytest.param(URL, document(redirect_uris=["http://evil.example/cb"]), InvalidRedirectUri,
                     "an http redirect URI must use a loopback host", id="http-redirect"),
        pytest.param(URL, document(redirect_uris=["javascript:alert(1)"]), InvalidRedirectUri,
                     "redirect URI scheme is not allowed", id="javascript-redirect"),
        pytest.param(URL, document(redirect_uris=["https://a.example/cb#f"]), InvalidRedirectUri,
                     "redirect URI must not have a fragment", id="fragment-redirect"),
        pytest.param(URL, document(client_name=None), InvalidClientMetadata,
                     "client_name is required", id="no-name"),
        pytest.param(URL, document(client_name="x" * 201), InvalidClientMetadata,
                     "client_name must be at most 200 characters", id="long-name"),
        pytest.param(URL, document(grant_types=["client_credentials"],
                                   token_endpoint_auth_method="private_key_jwt",
                                   jwks={"keys": [EC_KEY]}, redirect_uris=None),
                     InvalidClientMetadata,
                     "grant_types of a metadata document are authorization_code and refresh_token",
                     id="client-credentials"),
        pytest.param(URL, document(grant_types=["refresh_token"]), InvalidClientMetadata,
                     "refresh_token is only offered with authorization_code", id="refresh-alone"),
        pytest.param(URL, document(response_types=["token"]), InvalidClientMetadata,
                     "response_types may hold only code", id="implicit"),
        pytest.param(URL, document(scope="other:scope"), InvalidClientMetadata,
                     "scope names no scope this server supports", id="no-known-scope"),
        pytest.param(URL, document(scope="bad\\scope"), InvalidClientMetadata,
                     "scope must be space-separated scope names", id="malformed-scope"),
        pytest.param(URL, document(logo_uri="http://app.example.com/logo.png"),
                     InvalidClientMetadata, "logo_uri must be an absolute https URL without a "
                     "fragment", id="http-logo"),
        pytest.param("http://app.example.com", document(client_id="http://app.example.com"),
                     InvalidRequest, "client_id URL needs a path without . or .. segments",
                     id="no-path"),
        pytest.param("https://app.example.com/a/../b", document(), InvalidRequest,
                     "client_id URL needs a path without . or .. segments", id="dot-segment"),
        pytest.param("https://app.example.com/c.json#x", document(), InvalidRequest,
                     "client_id URL must not have a fragment or user information", id="fragment"),
        pytest.param("https://u:p@app.example.com/c.json", document(), InvalidRequest,
                     "client_id URL must not have a fragment or user information", id="userinfo"),
        pytest.param("ftp://app.example.com/c.json", document(), InvalidRequest,
                     "client_id URL must be an https URL with a host", id="ftp"),
        pytest.param("https:///c.json", document(), InvalidRequest,
                     "client_id URL must be an https URL with a host", id="no-host"),
        pytest.param("https://app.example.com:99999/c", document(), InvalidRequest,
                     "client_id URL is malformed", id="bad-port"),
        pytest.param("https://app.example.com/c json", document(), InvalidRequest,
                     "client_id URL is too long or contains forbidden characters", id="space"),
        pytest.param("https://app.example.com/" + "a" * 2000, document(), InvalidRequest,
                     "client_id URL is too long or contains forbidden characters", id="too-long"),
    ],
)  # fmt: skip
def test_refusals(url: str, body: object, error: type[OAuthError], message: str) -> None:
    with pytest.raises(OAuthError) as caught:
        client_from_document(url, body, SUPPORTED)
    assert type(caught.value) is error
    assert caught.value.description == message


def test_check_client_id_url_returns_a_good_url() -> None:
    assert check_client_id_url(URL) == URL


@pytest.mark.parametrize(
    ("client_id", "expected"),
    [
        (URL, True),
        ("http://127.0.0.1:8080/client.json", True),
        ("Zk3hT0a_b-c", False),
        ("https", False),
        ("urn:example:client", False),
    ],
)
def test_is_document_url(client_id: str, expected: bool) -> None:
    assert is_document_url(client_id) is expected


class OneClient:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.asked: list[str] = []

    async def get_client(self, client_id: ClientId) -> Client | None:
        self.asked.append(client_id)
        return self.client if client_id == self.client.client_id else None


async def test_lookup_sends_urls_to_documents_and_ids_to_the_store() -> None:
    stored = OneClient(Client(ClientId("abc"), "Stored", ()))
    documents = OneClient(Client(ClientId(URL), "Published", ()))
    lookup = ClientLookup(stored, documents)
    assert (await lookup.get_client(ClientId("abc"))) is stored.client
    assert (await lookup.get_client(ClientId(URL))) is documents.client
    assert (stored.asked, documents.asked) == (["abc"], [URL])


async def test_default_knows_no_documents() -> None:
    stored = OneClient(Client(ClientId(URL), "Stored under a URL id", ()))
    lookup = ClientLookup(stored, NoClientDocuments())
    assert await lookup.get_client(ClientId(URL)) is None
    assert stored.asked == []
