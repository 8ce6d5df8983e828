"""Row <-> record conversion for the SQL stores (the encodings listed in ``tables``).

Statements select every column in table order, which is also each dataclass's field order,
so rows convert positionally.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ostiary.core.models import (
    ApplicationType,
    AuditEvent,
    AuthMethod,
    AuthorizationCode,
    Client,
    Consent,
    Grant,
    GrantType,
    RefreshToken,
    SigningKey,
    User,
)

Row = Sequence[Any]


def join_scopes(scopes: Iterable[str]) -> str:
    return " ".join(sorted(scopes))


def split_scopes(text: str) -> frozenset[str]:
    return frozenset(text.split())


def client_values(c: Client) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "client_name": c.client_name,
        "redirect_uris": json.dumps(list(c.redirect_uris)),
        "token_endpoint_auth_method": c.token_endpoint_auth_method.value,
        "grant_types": json.dumps([g.value for g in c.grant_types]),
        "scope": None if c.scope is None else join_scopes(c.scope),
        "secret_hash": c.secret_hash,
        "created_at": c.created_at,
        "application_type": c.application_type.value,
        "jwks": None if c.jwks is None else json.dumps(c.jwks),
        "jwks_uri": c.jwks_uri,
        "client_secret_expires_at": c.client_secret_expires_at,
        "dynamic": c.dynamic,
        "last_used_at": c.last_used_at,
        "extra_metadata": json.dumps(c.extra_metadata),
    }


def to_client(r: Row) -> Client:
    return Client(
        client_id=r[0],
        client_name=r[1],
        redirect_uris=tuple(json.loads(r[2])),
        token_endpoint_auth_method=AuthMethod(r[3]),
        grant_types=tuple(GrantType(g) for g in json.loads(r[4])),
        scope=None if r[5] is None else split_scopes(r[5]),
        secret_hash=r[6],
        created_at=r[7],
        application_type=ApplicationType(r[8]),
        jwks=None if r[9] is None else json.loads(r[9]),
        jwks_uri=r[10],
        client_secret_expires_at=r[11],
        dynamic=bool(r[12]),
        last_used_at=r[13],
        extra_metadata=json.loads(r[14]),
    )


def user_values(u: User) -> dict[str, Any]:
    return {
        "user_id": u.user_id,
        "username": u.username,
        "password_hash": u.password_hash,
        "created_at": u.created_at,
    }


def to_user(r: Row) -> User:
    return User(r[0], r[1], r[2], r[3])


def grant_values(g: Grant) -> dict[str, Any]:
    return {
        "grant_id": g.grant_id,
        "user_id": g.user_id,
        "client_id": g.client_id,
        "scopes": join_scopes(g.scopes),
        "resource": g.resource,
        "created_at": g.created_at,
        "last_used_at": g.last_used_at,
        "revoked_at": g.revoked_at,
    }


def to_grant(r: Row) -> Grant:
    return Grant(r[0], r[1], r[2], split_scopes(r[3]), r[4], r[5], r[6], r[7])


def code_values(c: AuthorizationCode) -> dict[str, Any]:
    return {
        "code_hash": c.code_hash,
        "grant_id": c.grant_id,
        "client_id": c.client_id,
        "user_id": c.user_id,
        "redirect_uri": c.redirect_uri,
        "code_challenge": c.code_challenge,
        "resource": c.resource,
        "scopes": join_scopes(c.scopes),
        "expires_at": c.expires_at,
        "created_at": c.created_at,
        "consumed_at": c.consumed_at,
    }


def to_code(r: Row) -> AuthorizationCode:
    return AuthorizationCode(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], split_scopes(r[7]), r[8], r[9], r[10]
    )


def refresh_values(t: RefreshToken) -> dict[str, Any]:
    return {
        "token_hash": t.token_hash,
        "grant_id": t.grant_id,
        "client_id": t.client_id,
        "user_id": t.user_id,
        "scopes": join_scopes(t.scopes),
        "resource": t.resource,
        "expires_at": t.expires_at,
        "created_at": t.created_at,
        "rotated_at": t.rotated_at,
        "successor": t.successor,
    }


def to_refresh(r: Row) -> RefreshToken:
    successor = None if r[9] is None else bytes(r[9])
    return RefreshToken(
        r[0], r[1], r[2], r[3], split_scopes(r[4]), r[5], r[6], r[7], r[8], successor
    )


def consent_values(c: Consent) -> dict[str, Any]:
    return {
        "user_id": c.user_id,
        "client_id": c.client_id,
        "scopes": join_scopes(c.scopes),
        "updated_at": c.updated_at,
    }


def to_consent(r: Row) -> Consent:
    return Consent(r[0], r[1], split_scopes(r[2]), r[3])


def key_values(k: SigningKey) -> dict[str, Any]:
    return {
        "kid": k.kid,
        "alg": k.alg,
        "private_key": k.private_key,
        "public_jwk": json.dumps(k.public_jwk, sort_keys=True),
        "created_at": k.created_at,
        "retired_at": k.retired_at,
    }


def to_key(r: Row) -> SigningKey:
    return SigningKey(r[0], r[1], bytes(r[2]), json.loads(r[3]), r[4], r[5])


def audit_values(e: AuditEvent) -> dict[str, Any]:
    return {
        "at": e.at,
        "event": e.event,
        "outcome": e.outcome,
        "user_id": e.user_id,
        "client_id": e.client_id,
        "grant_id": e.grant_id,
        "address": e.address,
        "detail": e.detail,
    }


def to_audit(r: Row) -> AuditEvent:
    """From a row of ``audit_events`` (its first column, the id, is skipped)."""
    return AuditEvent(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
