"""Shared by the revocation and introspection unit tests: a reader of our JWTs, event capture,
and token pairs for a public and a confidential client."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ostiary.core.client_auth import ClientCredentials
from ostiary.core.models import GrantId
from ostiary.core.responses import TokenResponse
from ostiary.crypto.keys import jwks_document
from ostiary.server.access_tokens import KeyRingTokenReader

from ...support import (
    CONFIDENTIAL_ID,
    CONFIDENTIAL_REDIRECT,
    CONFIDENTIAL_SECRET,
    Harness,
    decode_access_token,
    exchange_code,
    obtain_code,
    public_credentials,
)

OTHER_ID = "other-app"


@dataclass
class Published:
    """Stands in for the key ring: the JWKS document it publishes."""

    jwks: dict[str, Any]


@dataclass
class RecordedEvents:
    events: list[dict[str, Any]] = field(default_factory=list)

    async def emit(self, event: str, outcome: str, **fields: Any) -> None:
        self.events.append({"event": event, "outcome": outcome, **fields})

    @property
    def revocations(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "token_revoked"]


def reading(h: Harness, events: RecordedEvents | None = None) -> Harness:
    """``h`` whose deps read our access tokens (with the published key) and record events."""
    reader = KeyRingTokenReader(
        Published(jwks_document([h.signing_record])), h.deps.config, h.clock
    )
    deps = replace(h.deps, access_tokens=reader, events=events or RecordedEvents())
    return replace(h, deps=deps)


def confidential_credentials(secret: str = CONFIDENTIAL_SECRET) -> ClientCredentials:
    return ClientCredentials(basic=(CONFIDENTIAL_ID, secret))


async def public_pair(h: Harness, client_id: str) -> TokenResponse:
    code = await obtain_code(h, client_id)
    return await exchange_code(h, code, public_credentials(client_id))


async def confidential_pair(h: Harness) -> TokenResponse:
    code = await obtain_code(h, CONFIDENTIAL_ID, CONFIDENTIAL_REDIRECT)
    return await exchange_code(
        h, code, confidential_credentials(), redirect_uri=[CONFIDENTIAL_REDIRECT]
    )


def refresh_of(pair: TokenResponse) -> str:
    assert pair.refresh_token is not None
    return pair.refresh_token


def grant_of(h: Harness, pair: TokenResponse) -> GrantId:
    return GrantId(str(decode_access_token(h, pair.access_token).claims["gid"]))


async def is_revoked(h: Harness, pair: TokenResponse) -> bool:
    grant = await h.storage.get_grant(grant_of(h, pair))
    assert grant is not None
    return grant.revoked_at is not None
