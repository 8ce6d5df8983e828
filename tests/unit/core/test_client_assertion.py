"""``private_key_jwt`` in the core (RFC 7523 §3): every refusal with its exact error code.

The signature is the injected verifier's job (``tests/unit/crypto/test_client_assertion.py``
tests the real one); here a fake returns chosen claims, so each claim rule is tested alone.

* ``invalid_client``: any claim rule broken, a replayed ``jti``, an unknown assertion type, an
  assertion for a secret client (or a secret for an assertion client), no verifier wired.
* ``invalid_request``: half of the assertion parameters, or an assertion plus a secret.
* ``temporarily_unavailable``: the in-memory replay cache is full of live entries.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest

from ostiary.core.client_assertion import (
    CLIENT_ASSERTION_TYPE,
    MAX_JTI_LENGTH,
    MemoryReplayGuard,
    assertion_subject,
)
from ostiary.core.client_auth import ClientCredentials, authenticate_client
from ostiary.core.deps import Deps
from ostiary.core.endpoints.token import token_endpoint
from ostiary.core.errors import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
    TemporarilyUnavailable,
)
from ostiary.core.models import AuthMethod, Client, ClientId, GrantType

from ..support import CONFIDENTIAL_ID, CONFIDENTIAL_SECRET, ISSUER, RESOURCE, Harness

JWT_ID = ClientId("jwt-client")
OTHER_JWT_ID = ClientId("other-jwt-client")
TOKEN_URL = ISSUER + "/token"


def fake_assertion(claims: dict[str, Any]) -> str:
    """Three base64url segments; only the payload matters to the core (the fake verifies)."""

    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'ES256'})}.{b64(claims)}.c2ln"


class FakeVerifier:
    """Returns the payload of the assertion as its claims, or refuses if told to."""

    def __init__(self) -> None:
        self.refuse = False
        self.seen: list[tuple[str, ClientId]] = []

    async def verify(self, assertion: str, client: Client) -> dict[str, Any]:
        self.seen.append((assertion, client.client_id))
        if self.refuse:
            raise InvalidClient("bad signature")
        payload = assertion.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "==="))
        return claims


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def jdeps(h: Harness, verifier: FakeVerifier) -> Deps:
    return replace(h.deps, assertion_verifier=verifier, assertion_replay=MemoryReplayGuard())


@pytest.fixture(autouse=True)
async def clients(h: Harness) -> None:
    for client_id in (JWT_ID, OTHER_JWT_ID):
        await h.storage.save_client(
            Client(
                client_id,
                "JWT",
                (),
                token_endpoint_auth_method=AuthMethod.PRIVATE_KEY_JWT,
                grant_types=(GrantType.CLIENT_CREDENTIALS,),
                jwks={"keys": []},
            )
        )
    await h.storage.save_client(
        Client(
            CONFIDENTIAL_ID,
            "Secret",
            (),
            token_endpoint_auth_method=AuthMethod.CLIENT_SECRET_BASIC,
            grant_types=(GrantType.CLIENT_CREDENTIALS,),
            secret_hash=h.hasher.hash(CONFIDENTIAL_SECRET),
        )
    )


def good_claims(h: Harness, client_id: str = JWT_ID, **changes: Any) -> dict[str, Any]:
    now = h.clock.now()
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 60,
        "iat": now,
        "jti": "jti-1",
    }
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


DROP = object()


def by_assertion(assertion: str, client_id: str | None = None) -> ClientCredentials:
    return ClientCredentials(
        client_id=client_id,
        client_assertion_type=CLIENT_ASSERTION_TYPE,
        client_assertion=assertion,
    )


CLAIM_REFUSALS = [
    pytest.param({"iss": "someone-else"}, id="iss-not-client"),
    pytest.param({"iss": DROP}, id="iss-missing"),
    pytest.param({"sub": OTHER_JWT_ID}, id="sub-other-client"),
    pytest.param({"aud": "https://elsewhere.example.com/token"}, id="aud-foreign"),
    pytest.param({"aud": RESOURCE}, id="aud-resource"),
    pytest.param({"aud": ISSUER + "/token/"}, id="aud-not-exact"),
    pytest.param({"aud": ["https://x.example.com", 5]}, id="aud-list-without-ours"),
    pytest.param({"aud": DROP}, id="aud-missing"),
    pytest.param({"exp": DROP}, id="exp-missing"),
    pytest.param({"exp": 0}, id="exp-long-past"),
    pytest.param({"exp": "soon"}, id="exp-not-a-number"),
    pytest.param({"exp": True}, id="exp-boolean"),
    pytest.param({"exp": 1.5}, id="exp-float"),
    pytest.param({"jti": DROP}, id="jti-missing"),
    pytest.param({"jti": ""}, id="jti-empty"),
    pytest.param({"jti": 7}, id="jti-not-a-string"),
    pytest.param({"jti": "j" * (MAX_JTI_LENGTH + 1)}, id="jti-too-long"),
    pytest.param({"iat": "now"}, id="iat-not-a-number"),
]


@pytest.mark.parametrize("changes", CLAIM_REFUSALS)
async def test_claim_refusals(h: Harness, jdeps: Deps, changes: dict[str, Any]) -> None:
    with pytest.raises(OAuthError) as caught:
        await authenticate_client(
            by_assertion(fake_assertion(good_claims(h, **changes)), JWT_ID), jdeps
        )
    assert type(caught.value) is InvalidClient


TIME_REFUSALS = [
    pytest.param({"exp": 0}, id="exp-now"),
    pytest.param({"exp": -1}, id="exp-a-second-ago"),
    pytest.param({"exp": 331, "iat": DROP}, id="exp-beyond-5-minutes-and-skew"),
    pytest.param({"exp": 200, "iat": -101}, id="lifetime-over-300-by-iat"),
    pytest.param({"iat": 31}, id="iat-in-the-future"),
    pytest.param({"nbf": 31}, id="nbf-in-the-future"),
]


@pytest.mark.parametrize("offsets", TIME_REFUSALS)
async def test_time_refusals(h: Harness, jdeps: Deps, offsets: dict[str, Any]) -> None:
    now = h.clock.now()
    changes: dict[str, Any] = {k: v if v is DROP else now + v for k, v in offsets.items()}
    with pytest.raises(InvalidClient):
        await authenticate_client(
            by_assertion(fake_assertion(good_claims(h, **changes)), JWT_ID), jdeps
        )


ACCEPTED = [
    pytest.param({}, id="token-endpoint-aud"),
    pytest.param({"aud": ISSUER}, id="issuer-aud"),
    pytest.param({"aud": ["https://x.example.com", TOKEN_URL]}, id="aud-list-with-ours"),
    pytest.param({"iat": DROP}, id="no-iat"),
    pytest.param({"exp": 330, "iat": DROP}, id="exp-at-5-minutes-plus-skew"),
    pytest.param({"exp": 300, "iat": 0}, id="lifetime-exactly-300"),
    pytest.param({"iat": 30, "nbf": 30}, id="iat-nbf-within-skew"),
]


@pytest.mark.parametrize("changes", ACCEPTED)
async def test_accepted(h: Harness, jdeps: Deps, changes: dict[str, Any]) -> None:
    now = h.clock.now()
    relative = {"exp", "iat", "nbf"}
    changes = {
        k: (now + v if k in relative and isinstance(v, int) else v) for k, v in changes.items()
    }
    client = await authenticate_client(
        by_assertion(fake_assertion(good_claims(h, **changes))), jdeps
    )
    assert client.client_id == JWT_ID


PARAMETER_REFUSALS = [
    pytest.param(
        ClientCredentials(client_id=JWT_ID, client_assertion_type=CLIENT_ASSERTION_TYPE),
        InvalidRequest,
        id="type-without-assertion",
    ),
    pytest.param(
        ClientCredentials(client_id=JWT_ID, client_assertion="a.b.c"),
        InvalidRequest,
        id="assertion-without-type",
    ),
    pytest.param(
        ClientCredentials(
            client_id=JWT_ID,
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            client_assertion="a.b.c",
        ),
        InvalidClient,
        id="saml-assertion-type",
    ),
    pytest.param(
        ClientCredentials(
            basic=(JWT_ID, "secret"),
            client_assertion_type=CLIENT_ASSERTION_TYPE,
            client_assertion="a.b.c",
        ),
        InvalidRequest,
        id="assertion-plus-basic",
    ),
    pytest.param(
        ClientCredentials(
            client_id=JWT_ID,
            client_secret="secret",
            client_assertion_type=CLIENT_ASSERTION_TYPE,
            client_assertion="a.b.c",
        ),
        InvalidRequest,
        id="assertion-plus-client-secret",
    ),
    pytest.param(by_assertion("not-a-jwt"), InvalidClient, id="no-client-id-and-not-a-jwt"),
    pytest.param(by_assertion("a.!!!.c"), InvalidClient, id="payload-not-base64-json"),
    pytest.param(by_assertion("a.W10.c"), InvalidClient, id="payload-not-an-object"),
    pytest.param(by_assertion("a.e30.c"), InvalidClient, id="payload-without-sub"),
    pytest.param(by_assertion("a.b.c", "nobody"), InvalidClient, id="unknown-client"),
    pytest.param(ClientCredentials(basic=(JWT_ID, "s")), InvalidClient, id="secret-for-jwt-client"),
    pytest.param(
        ClientCredentials(client_id=JWT_ID, client_secret="s"),
        InvalidClient,
        id="post-secret-for-jwt-client",
    ),
    pytest.param(ClientCredentials(client_id=JWT_ID), InvalidClient, id="nothing-for-jwt-client"),
]


@pytest.mark.parametrize(("credentials", "expected"), PARAMETER_REFUSALS)
async def test_parameter_refusals(
    jdeps: Deps, verifier: FakeVerifier, credentials: ClientCredentials, expected: type[OAuthError]
) -> None:
    with pytest.raises(OAuthError) as caught:
        await authenticate_client(credentials, jdeps)
    assert type(caught.value) is expected
    assert verifier.seen == []  # refused before any signature check


async def test_an_assertion_never_authenticates_a_secret_client(
    h: Harness, jdeps: Deps, verifier: FakeVerifier
) -> None:
    claims = good_claims(h, client_id=CONFIDENTIAL_ID)
    with pytest.raises(InvalidClient):
        await authenticate_client(by_assertion(fake_assertion(claims)), jdeps)
    assert verifier.seen == []


async def test_body_client_id_must_match_the_assertion(h: Harness, jdeps: Deps) -> None:
    assertion = fake_assertion(good_claims(h, client_id=JWT_ID))
    with pytest.raises(InvalidClient):
        await authenticate_client(by_assertion(assertion, OTHER_JWT_ID), jdeps)


async def test_the_default_verifier_rejects_everything(h: Harness) -> None:
    assertion = fake_assertion(good_claims(h))
    with pytest.raises(InvalidClient) as caught:
        await authenticate_client(by_assertion(assertion), h.deps)
    assert caught.value.description == "client assertions are not accepted by this server"


async def test_a_jti_is_single_use(h: Harness, jdeps: Deps) -> None:
    assertion = fake_assertion(good_claims(h))
    await authenticate_client(by_assertion(assertion), jdeps)

    with pytest.raises(InvalidClient) as caught:
        await authenticate_client(by_assertion(assertion), jdeps)
    assert caught.value.description == "client assertion was already used"
    # the same jti from another client is that client's own
    other = fake_assertion(good_claims(h, client_id=OTHER_JWT_ID))
    assert (await authenticate_client(by_assertion(other), jdeps)).client_id == OTHER_JWT_ID


async def test_a_refused_signature_does_not_use_up_the_jti(
    h: Harness, jdeps: Deps, verifier: FakeVerifier
) -> None:
    assertion = fake_assertion(good_claims(h))
    verifier.refuse = True
    with pytest.raises(InvalidClient):
        await authenticate_client(by_assertion(assertion), jdeps)
    verifier.refuse = False
    assert (await authenticate_client(by_assertion(assertion), jdeps)).client_id == JWT_ID


async def test_an_invalid_claim_does_not_use_up_the_jti(h: Harness, jdeps: Deps) -> None:
    with pytest.raises(InvalidClient):
        await authenticate_client(
            by_assertion(fake_assertion(good_claims(h, aud="https://x.example.com"))), jdeps
        )
    assert await authenticate_client(by_assertion(fake_assertion(good_claims(h))), jdeps)


async def test_audiences_can_be_chosen_by_the_endpoint(h: Harness, jdeps: Deps) -> None:
    claims = good_claims(h, aud=ISSUER + "/introspect")
    with pytest.raises(InvalidClient):
        await authenticate_client(by_assertion(fake_assertion(claims)), jdeps)
    client = await authenticate_client(
        by_assertion(fake_assertion(claims)), jdeps, audiences=[ISSUER + "/introspect"]
    )
    assert client.client_id == JWT_ID


async def test_client_credentials_with_an_assertion(h: Harness, jdeps: Deps) -> None:
    response = await token_endpoint(
        {"grant_type": ["client_credentials"], "scope": ["tools:read"]},
        by_assertion(fake_assertion(good_claims(h))),
        jdeps,
    )
    assert response.scope == "tools:read" and response.refresh_token is None


async def test_replay_guard_forgets_expired_entries(h: Harness) -> None:
    guard = MemoryReplayGuard(max_entries=2)
    now = h.clock.now()
    assert await guard.first_use(JWT_ID, "a", now + 10, now)
    assert not await guard.first_use(JWT_ID, "a", now + 10, now + 10)  # live until exp
    assert await guard.first_use(JWT_ID, "a", now + 20, now + 11)  # expired: forgotten
    assert await guard.first_use(JWT_ID, "b", now + 20, now + 11)
    # full of live entries: refuse rather than forget one that could still be replayed
    with pytest.raises(TemporarilyUnavailable):
        await guard.first_use(JWT_ID, "c", now + 20, now + 12)
    # once they expire, room is made
    assert await guard.first_use(JWT_ID, "c", now + 40, now + 21)
    assert not await guard.first_use(JWT_ID, "c", now + 40, now + 22)


def test_assertion_subject_reads_sub_only() -> None:
    assert assertion_subject(fake_assertion({"sub": "abc", "iss": "xyz"})) == "abc"
    with pytest.raises(InvalidClient):
        assertion_subject(fake_assertion({"iss": "xyz"}))
    with pytest.raises(InvalidClient):
        assertion_subject("a.b")
