"""Enterprise-managed authorization (SEP-990): token exchange at the IdP, jwt-bearer at the AS."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qsl

import httpx
import pytest

from ostiary.client.enterprise import (
    ID_JAG_TYPE,
    ID_TOKEN_TYPE,
    JWT_BEARER,
    TOKEN_EXCHANGE,
    IdentityAssertion,
    enterprise_tokens,
)
from ostiary.client.errors import TokenError
from ostiary.client.models import ClientRegistration, ServerMetadata, TokenSet

IDP = "https://idp.example.com"
AS = "https://auth.example.com"
RESOURCE = "https://mcp.example.com/mcp"
NOW = 1_700_000_000
ID_TOKEN = "eyJ.id-token-value.sig"
ID_JAG = "eyJ.id-jag-value.sig"
ACCESS = "access-token-value"
IDP_SECRET = "idp-s3cr3t-value"
AS_SECRET = "as-s3cr3t-value"
SECRETS = (ID_TOKEN, ID_JAG, ACCESS, IDP_SECRET, AS_SECRET)
SERVER = ServerMetadata(
    issuer=AS,
    authorization_endpoint=f"{AS}/authorize",
    token_endpoint=f"{AS}/token",
    token_endpoint_auth_methods_supported=("client_secret_basic",),
)
BASIC = ClientRegistration(
    client_id="mcp-client",
    issuer=AS,
    source="pre-registered",
    token_endpoint_auth_method="client_secret_basic",
    client_secret=AS_SECRET,
)
ASSERTION = IdentityAssertion(
    idp_token_endpoint=f"{IDP}/token", idp_client_id="idp-client", id_token=ID_TOKEN
)

Handler = Callable[[httpx.Request], httpx.Response]


def idp_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": ID_JAG, "issued_token_type": ID_JAG_TYPE, "token_type": "N_A"}
    )


def as_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600}
    )


class Rig:
    """A mock IdP and AS on one transport; every request is kept."""

    def __init__(self, idp: Handler = idp_ok, auth: Handler = as_ok) -> None:
        self.requests: list[httpx.Request] = []
        self.idp, self.auth = idp, auth

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.idp(request) if request.url.host == "idp.example.com" else self.auth(request)

    async def run(
        self,
        assertion: IdentityAssertion = ASSERTION,
        registration: ClientRegistration = BASIC,
        scope: str | None = None,
    ) -> TokenSet:
        async with httpx.AsyncClient(transport=httpx.MockTransport(self.handle)) as http:
            return await enterprise_tokens(
                http, SERVER, registration, assertion, resource=RESOURCE, scope=scope, now=NOW
            )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def refusal(status: int, error: str, description: str) -> Handler:
    return lambda request: httpx.Response(
        status, json={"error": error, "error_description": description}
    )


def assert_no_secret(message: str) -> None:
    for value in SECRETS:
        assert value not in message


async def test_exchanges_the_id_token_then_redeems_the_id_jag() -> None:
    rig = Rig()
    tokens = await rig.run()
    assert [str(r.url) for r in rig.requests] == [f"{IDP}/token", f"{AS}/token"]
    exchange, grant = rig.requests
    assert form(exchange) == {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG_TYPE,
        "subject_token": ID_TOKEN,
        "subject_token_type": ID_TOKEN_TYPE,
        "audience": AS,
        "resource": RESOURCE,
        "client_id": "idp-client",
    }
    assert "authorization" not in exchange.headers
    assert form(grant) == {"grant_type": JWT_BEARER, "assertion": ID_JAG, "resource": RESOURCE}
    expected = base64.b64encode(f"mcp-client:{AS_SECRET}".encode()).decode()
    assert grant.headers["authorization"] == f"Basic {expected}"
    assert (tokens.access_token, tokens.token_type) == (ACCESS, "Bearer")
    assert (tokens.expires_at, tokens.obtained_at, tokens.refresh_token) == (NOW + 3600, NOW, None)


async def test_scope_and_idp_secret_are_sent_and_post_auth_is_honoured() -> None:
    rig = Rig()
    assertion = replace(ASSERTION, idp_client_secret=IDP_SECRET)
    post = replace(BASIC, token_endpoint_auth_method="client_secret_post")
    await rig.run(assertion, post, scope="mcp:read mcp:write")
    exchange, grant = rig.requests
    assert form(exchange)["client_secret"] == IDP_SECRET
    assert form(exchange)["scope"] == "mcp:read mcp:write"
    assert form(grant) == {
        "grant_type": JWT_BEARER,
        "assertion": ID_JAG,
        "resource": RESOURCE,
        "scope": "mcp:read mcp:write",
        "client_id": "mcp-client",
        "client_secret": AS_SECRET,
    }
    assert "authorization" not in grant.headers


@pytest.mark.parametrize(
    ("rig", "expected", "error"),
    [
        pytest.param(
            Rig(idp=refusal(400, "invalid_grant", f"bad {ID_TOKEN} from {IDP_SECRET}")),
            "identity provider https://idp.example.com/token refused the token exchange: "
            "invalid_grant",
            "invalid_grant",
            id="idp-refuses",
        ),
        pytest.param(
            Rig(idp=lambda r: httpx.Response(500, text=f"boom {ID_TOKEN}")),
            "identity provider https://idp.example.com/token answered 500",
            None,
            id="idp-500-echoing-the-id-token",
        ),
        pytest.param(
            Rig(idp=lambda r: httpx.Response(302, headers={"Location": f"{IDP}/elsewhere"})),
            "(a redirect)",
            None,
            id="idp-redirect-not-followed",
        ),
        pytest.param(
            Rig(
                idp=lambda r: httpx.Response(
                    200,
                    json={
                        "access_token": ID_JAG,
                        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    },
                )
            ),
            "not an identity assertion grant",
            None,
            id="wrong-issued-token-type",
        ),
        pytest.param(
            Rig(idp=lambda r: httpx.Response(200, json={"issued_token_type": ID_JAG_TYPE})),
            "without an ID-JAG",
            None,
            id="no-id-jag",
        ),
        pytest.param(
            Rig(idp=lambda r: httpx.Response(200, text="not json")),
            "without a JSON object",
            None,
            id="idp-not-json",
        ),
        pytest.param(
            Rig(auth=refusal(400, "invalid_grant", f"ID-JAG {ID_JAG} expired")),
            "token endpoint refused the request: invalid_grant",
            "invalid_grant",
            id="as-refuses",
        ),
        pytest.param(
            Rig(auth=refusal(401, "invalid_client", f"wrong secret {AS_SECRET}")),
            "invalid_client",
            "invalid_client",
            id="as-refuses-client",
        ),
    ],
)
async def test_failures_are_clear_and_leak_nothing(
    rig: Rig, expected: str, error: str | None
) -> None:
    with pytest.raises(TokenError) as caught:
        await rig.run(replace(ASSERTION, idp_client_secret=IDP_SECRET))
    message = str(caught.value)
    assert expected in message
    assert caught.value.error == error
    assert_no_secret(message)


async def test_the_as_is_not_asked_when_the_idp_refuses() -> None:
    rig = Rig(idp=refusal(400, "invalid_grant", "no"))
    with pytest.raises(TokenError):
        await rig.run()
    assert [r.url.host for r in rig.requests] == ["idp.example.com"]


async def test_an_unreachable_idp_is_named() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TokenError, match="Could not reach the identity provider"):
        await Rig(idp=down).run()


def test_the_id_token_and_secret_stay_out_of_repr() -> None:
    shown = repr(replace(ASSERTION, idp_client_secret=IDP_SECRET))
    assert ID_TOKEN not in shown
    assert IDP_SECRET not in shown
