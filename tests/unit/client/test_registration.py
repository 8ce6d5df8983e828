"""Registration: pre-registered, CIMD, DCR and the refusal, in REQ-CL-7 order."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from ostiary.client.errors import RegistrationError
from ostiary.client.models import ClientRegistration, ServerMetadata
from ostiary.client.registration import (
    ClientProfile,
    PreRegistered,
    application_type,
    obtain_registration,
    registration_auth_method,
)

AS = "https://auth.example.com"
CIMD = "https://client.example.com/client-metadata.json"
LOOPBACK = ("http://127.0.0.1:3000/callback",)
SERVER = ServerMetadata(
    issuer=AS,
    authorization_endpoint=f"{AS}/authorize",
    token_endpoint=f"{AS}/token",
    registration_endpoint=f"{AS}/register",
    code_challenge_methods_supported=("S256",),
)
PROFILE = ClientProfile(redirect_uris=LOOPBACK)


class Registrar:
    """A registration endpoint answering ``status`` with ``answer``; requests are recorded."""

    def __init__(self, status: int = 201, answer: Any = None) -> None:
        self.status = status
        self.answer = answer if answer is not None else {"client_id": "dcr-id"}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, str):
            return httpx.Response(self.status, text=self.answer)
        if 300 <= self.status < 400:
            return httpx.Response(self.status, headers={"Location": "https://elsewhere/"})
        return httpx.Response(self.status, json=self.answer)

    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.requests[-1].content))


async def obtain(
    server: ServerMetadata, profile: ClientProfile, registrar: Registrar | None = None
) -> ClientRegistration:
    transport = httpx.MockTransport(registrar or Registrar())
    async with httpx.AsyncClient(transport=transport) as http:
        return await obtain_registration(http, server, profile, now=1000)


# --- priority ---------------------------------------------------------------------------------


async def test_pre_registered_for_this_issuer_wins_over_everything() -> None:
    registrar = Registrar()
    profile = replace(
        PROFILE,
        client_metadata_url=CIMD,
        pre_registered=(
            PreRegistered("other", "s", issuer="https://other.example"),
            PreRegistered("mine", "secret", issuer=AS),
        ),
    )
    server = replace(SERVER, client_id_metadata_document_supported=True)
    registration = await obtain(server, profile, registrar)
    assert (registration.client_id, registration.source) == ("mine", "pre-registered")
    assert registration.client_secret == "secret"
    assert registration.token_endpoint_auth_method == "client_secret_basic"
    assert registration.issuer == AS and registration.registered_at == 1000
    assert registrar.requests == []


async def test_pre_registered_for_another_issuer_is_not_used() -> None:
    profile = replace(PROFILE, pre_registered=(PreRegistered("other", issuer="https://x.example"),))
    registration = await obtain(SERVER, profile)
    assert registration.source == "dynamic" and registration.client_id == "dcr-id"


async def test_pre_registered_without_issuer_fits_any_server() -> None:
    profile = replace(PROFILE, pre_registered=(PreRegistered("any-id"),))
    registration = await obtain(SERVER, profile)
    assert registration.client_id == "any-id"
    assert registration.token_endpoint_auth_method == "none"


@pytest.mark.parametrize(
    ("credential", "supported", "expected"),
    [
        (PreRegistered("c", "s"), None, "client_secret_basic"),
        (
            PreRegistered("c", "s"),
            ("client_secret_basic", "client_secret_post"),
            "client_secret_basic",
        ),
        (PreRegistered("c", "s"), ("client_secret_post",), "client_secret_post"),
        (PreRegistered("c", "s"), ("none",), "client_secret_basic"),
        (PreRegistered("c"), ("client_secret_post",), "none"),
        (
            PreRegistered("c", "s", token_endpoint_auth_method="client_secret_post"),
            None,
            "client_secret_post",
        ),
        (PreRegistered("c", private_key_pem="PEM", signing_alg="ES256"), None, "private_key_jwt"),
    ],
    ids=["secret", "both listed", "post only", "neither listed", "public", "explicit", "key"],
)
async def test_pre_registered_auth_method(
    credential: PreRegistered, supported: tuple[str, ...] | None, expected: str
) -> None:
    server = replace(SERVER, token_endpoint_auth_methods_supported=supported)
    registration = await obtain(server, replace(PROFILE, pre_registered=(credential,)))
    assert registration.token_endpoint_auth_method == expected
    assert registration.private_key_pem == credential.private_key_pem
    assert registration.signing_alg == credential.signing_alg


def test_pre_registered_repr_hides_secrets() -> None:
    text = repr(PreRegistered("c", "top-secret", private_key_pem="-----BEGIN KEY"))
    assert "top-secret" not in text and "BEGIN" not in text and "'c'" in text


async def test_cimd_used_when_supported_without_any_request() -> None:
    registrar = Registrar()
    server = replace(SERVER, client_id_metadata_document_supported=True)
    registration = await obtain(server, replace(PROFILE, client_metadata_url=CIMD), registrar)
    assert registration == ClientRegistration(
        client_id=CIMD,
        issuer=AS,
        source="metadata-document",
        token_endpoint_auth_method="none",
        redirect_uris=LOOPBACK,
        registered_at=1000,
    )
    assert registrar.requests == []


async def test_cimd_not_used_when_server_does_not_support_it() -> None:
    registration = await obtain(SERVER, replace(PROFILE, client_metadata_url=CIMD))
    assert registration.source == "dynamic"


@pytest.mark.parametrize(
    "url",
    [
        "http://client.example.com/meta.json",
        "https://client.example.com",
        "https://client.example.com/",
        "https://client.example.com/m.json#x",
        "https://user@client.example.com/m.json",
    ],
)
async def test_cimd_url_must_be_https_with_path(url: str) -> None:
    server = replace(SERVER, client_id_metadata_document_supported=True)
    with pytest.raises(RegistrationError, match="client metadata document URL"):
        await obtain(server, replace(PROFILE, client_metadata_url=url))


async def test_nothing_possible_tells_how_to_pre_register() -> None:
    server = replace(SERVER, registration_endpoint=None)
    with pytest.raises(RegistrationError) as info:
        await obtain(server, PROFILE)
    message = str(info.value)
    assert "by hand" in message and LOOPBACK[0] in message and AS in message


# --- DCR --------------------------------------------------------------------------------------


async def test_dcr_request_and_answer() -> None:
    registrar = Registrar(
        201,
        {
            "client_id": "new-id",
            "client_secret": "new-secret",
            "token_endpoint_auth_method": "client_secret_post",
            "redirect_uris": list(LOOPBACK),
        },
    )
    profile = replace(PROFILE, client_name="My Client", software_id="sw", software_version="1.2")
    registration = await obtain(SERVER, profile, registrar)
    request = registrar.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{AS}/register"
    assert request.headers["content-type"] == "application/json"
    assert registrar.body() == {
        "redirect_uris": list(LOOPBACK),
        "client_name": "My Client",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "software_id": "sw",
        "software_version": "1.2",
    }
    assert registration == ClientRegistration(
        client_id="new-id",
        issuer=AS,
        source="dynamic",
        token_endpoint_auth_method="client_secret_post",
        client_secret="new-secret",
        redirect_uris=LOOPBACK,
        registered_at=1000,
    )


async def test_dcr_200_accepted_and_method_defaults_to_requested() -> None:
    registrar = Registrar(200, {"client_id": "x", "client_secret": "y"})
    server = replace(SERVER, token_endpoint_auth_methods_supported=("client_secret_basic",))
    registration = await obtain(server, PROFILE, registrar)
    assert registrar.body()["token_endpoint_auth_method"] == "client_secret_basic"
    assert registration.token_endpoint_auth_method == "client_secret_basic"
    assert registration.client_secret == "y"


@pytest.mark.parametrize(
    ("supported", "expected"),
    [
        (None, "none"),
        ((), "none"),
        (("client_secret_post", "none"), "none"),
        (("client_secret_post", "client_secret_basic"), "client_secret_basic"),
        (("client_secret_post",), "client_secret_post"),
        (("private_key_jwt",), "none"),
    ],
)
def test_registration_auth_method(supported: tuple[str, ...] | None, expected: str) -> None:
    server = replace(SERVER, token_endpoint_auth_methods_supported=supported)
    assert registration_auth_method(server) == expected


@pytest.mark.parametrize(
    ("uris", "expected"),
    [
        (("http://127.0.0.1:1/cb",), "native"),
        (("http://localhost:1/cb", "http://[::1]:2/cb"), "native"),
        (("http://127.0.0.1:1/cb", "https://app.example/cb"), "web"),
        (("https://app.example/cb",), "web"),
        ((), "web"),
    ],
)
def test_application_type(uris: tuple[str, ...], expected: str) -> None:
    assert application_type(uris) == expected


async def test_dcr_400_surfaces_the_server_error() -> None:
    registrar = Registrar(
        400, {"error": "invalid_redirect_uri", "error_description": "loopback only on port 80"}
    )
    with pytest.raises(RegistrationError) as info:
        await obtain(SERVER, PROFILE, registrar)
    assert "invalid_redirect_uri" in str(info.value)
    assert "loopback only on port 80" in str(info.value)


@pytest.mark.parametrize(
    ("status", "answer", "fragment"),
    [
        (500, "internal error", "500"),
        (400, "<html>bad</html>", "400"),
        (201, "not json", "201"),
        (201, {"client_secret": "s"}, "no client_id"),
        (201, {"client_id": ""}, "no client_id"),
        (302, {}, "redirect"),
    ],
    ids=["500", "400 html", "201 not json", "no client_id", "empty client_id", "redirect"],
)
async def test_dcr_failures(status: int, answer: Any, fragment: str) -> None:
    with pytest.raises(RegistrationError, match=fragment):
        await obtain(SERVER, PROFILE, Registrar(status, answer))


async def test_dcr_network_error() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        with pytest.raises(RegistrationError, match="ConnectError"):
            await obtain_registration(http, SERVER, PROFILE, now=0)
