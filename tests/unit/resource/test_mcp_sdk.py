"""The SDK adapter: a valid token becomes the SDK's AccessToken, an invalid one None; and a
tool finds its caller in the request scope."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mcp.server.auth.provider import TokenVerifier as SdkVerifierProtocol

from ostiary.resource.caller import TOKEN_KEY
from ostiary.resource.mcp_sdk import SdkTokenVerifier, caller
from ostiary.resource.tokens import InvalidToken, VerifiedToken

ALICE = VerifiedToken(
    "alice", "desktop", frozenset({"tools:read", "tools:execute"}), ("https://r.example/mcp",),
    "https://as.example", 1_700_000_300, "g1", {"jti": "j1"},
)  # fmt: skip


class OneToken:
    async def verify(self, token: str) -> VerifiedToken:
        if token != "good":
            raise InvalidToken("the token is not valid")
        return ALICE


async def test_a_valid_token_becomes_the_sdk_access_token() -> None:
    adapter: SdkVerifierProtocol = SdkTokenVerifier(OneToken())
    access = await adapter.verify_token("good")
    assert access is not None
    assert access.client_id == "desktop"
    assert access.scopes == ["tools:execute", "tools:read"]
    assert access.expires_at == 1_700_000_300
    assert access.resource == "https://r.example/mcp"
    assert access.subject == "alice"
    assert access.claims is not None
    assert access.claims["iss"] == "https://as.example"


async def test_an_invalid_token_is_none() -> None:
    assert await SdkTokenVerifier(OneToken()).verify_token("bad") is None


def test_caller_reads_the_request_scope_and_refuses_outside_a_protected_request() -> None:
    request = SimpleNamespace(scope={"state": {TOKEN_KEY: ALICE}})
    ctx = SimpleNamespace(request_context=SimpleNamespace(request=request))
    assert caller(ctx) is ALICE
    with pytest.raises(LookupError):
        caller(SimpleNamespace(request_context=SimpleNamespace(request=None)))
