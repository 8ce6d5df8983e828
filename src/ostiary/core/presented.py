"""A token presented at the revocation or introspection endpoint, and what it turns out to be.

Both endpoints take ``token`` and an optional ``token_type_hint`` (RFC 7009 §2.1, RFC 7662
§2.1). The hint only decides which kind is looked up first; both kinds are always tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ostiary.core.deps import Deps
from ostiary.core.errors import UnsupportedTokenType
from ostiary.core.models import ClientId, GrantId, RefreshToken
from ostiary.core.params import Params, optional, required


class TokenKind(StrEnum):
    """The token types registered for ``token_type_hint`` (RFC 7009 §4.1.2)."""

    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """The ``token`` parameter and the kinds to try, in order."""

    token: str
    order: tuple[TokenKind, ...]


@dataclass(frozen=True, slots=True)
class FoundAccessToken:
    """An access token we signed that verifies and has not expired; its claims."""

    claims: dict[str, Any]
    kind: TokenKind = TokenKind.ACCESS_TOKEN

    @property
    def user_id(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def grant_id(self) -> GrantId:
        return GrantId(str(self.claims["gid"]))

    @property
    def client_id(self) -> ClientId:
        return ClientId(str(self.claims["client_id"]))


@dataclass(frozen=True, slots=True)
class FoundRefreshToken:
    """A refresh token the store knows, whose grant is not revoked (maybe rotated or expired)."""

    record: RefreshToken
    kind: TokenKind = TokenKind.REFRESH_TOKEN

    @property
    def user_id(self) -> str | None:
        return self.record.user_id

    @property
    def grant_id(self) -> GrantId:
        return self.record.grant_id

    @property
    def client_id(self) -> ClientId:
        return self.record.client_id


Found = FoundAccessToken | FoundRefreshToken


def presented_token(params: Params) -> PresentedToken:
    """Read ``token`` and ``token_type_hint``; an unknown hint is ``unsupported_token_type``."""
    token = required(params, "token")
    hint = optional(params, "token_type_hint")
    if hint is None or hint == TokenKind.ACCESS_TOKEN:
        return PresentedToken(token, (TokenKind.ACCESS_TOKEN, TokenKind.REFRESH_TOKEN))
    if hint == TokenKind.REFRESH_TOKEN:
        return PresentedToken(token, (TokenKind.REFRESH_TOKEN, TokenKind.ACCESS_TOKEN))
    raise UnsupportedTokenType("token_type_hint must be access_token or refresh_token")


def _read_access_token(token: str, deps: Deps) -> FoundAccessToken | None:
    claims = deps.access_tokens.read(token)
    if claims is None or not isinstance(claims.get("gid"), str):
        return None
    if not isinstance(claims.get("client_id"), str):
        return None
    return FoundAccessToken(claims)


async def find_token(presented: PresentedToken, deps: Deps) -> Found | None:
    """The first kind, in hint order, that recognises the token; None if neither does."""
    for kind in presented.order:
        if kind is TokenKind.ACCESS_TOKEN:
            access = _read_access_token(presented.token, deps)
            if access is not None:
                return access
        else:
            record = await deps.storage.get_refresh_token(deps.hasher.hash(presented.token))
            if record is not None:
                return FoundRefreshToken(record)
    return None
