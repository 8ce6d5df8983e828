"""Prebuilt Core statements for the hot paths (built once, so SQLAlchemy's compiled cache hits).

A refresh token is live only while its grant is unrevoked: the correlated ``EXISTS`` is a
primary-key probe of ``grants`` on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ostiary.storage.sql.tables import (
    authorization_codes,
    clients,
    consents,
    grants,
    refresh_tokens,
    users,
)

GRANT_LIVE = exists().where(
    grants.c.grant_id == refresh_tokens.c.grant_id, grants.c.revoked_at.is_(None)
)

GET_REFRESH = select(*refresh_tokens.c).where(
    refresh_tokens.c.token_hash == bindparam("h"), GRANT_LIVE
)
# Params: h, now, sealed. One winner: the row stops matching once rotated_at is set.
ROTATE_REFRESH = (
    update(refresh_tokens)
    .where(
        refresh_tokens.c.token_hash == bindparam("h"),
        refresh_tokens.c.rotated_at.is_(None),
        refresh_tokens.c.expires_at > bindparam("now"),
        GRANT_LIVE,
    )
    .values(rotated_at=bindparam("now"), successor=bindparam("sealed"))
    .returning(refresh_tokens.c.token_hash)
)

# The same rotation as ONE statement (PostgreSQL): the successor is inserted only from the
# row the UPDATE retired, so it runs atomically in autocommit mode, in one round trip.
# Params: h, now, sealed, and s_<column> for every column of the successor.
_ROTATED = ROTATE_REFRESH.cte("rotated")
ROTATE_REFRESH_ONE_STATEMENT = (
    insert(refresh_tokens)
    .from_select(
        [c.name for c in refresh_tokens.c],
        select(*(bindparam(f"s_{c.name}", type_=c.type) for c in refresh_tokens.c)).select_from(
            _ROTATED
        ),
    )
    .returning(refresh_tokens.c.token_hash)
)

# Params: h, now. One winner: the row stops matching once consumed_at is set.
CODE_GRANT_LIVE = exists().where(
    grants.c.grant_id == authorization_codes.c.grant_id, grants.c.revoked_at.is_(None)
)
CONSUME_CODE = (
    update(authorization_codes)
    .where(
        authorization_codes.c.code_hash == bindparam("h"),
        authorization_codes.c.consumed_at.is_(None),
        CODE_GRANT_LIVE,
    )
    .values(consumed_at=bindparam("now"))
    .returning(*authorization_codes.c)
)
GET_CODE = select(*authorization_codes.c).where(authorization_codes.c.code_hash == bindparam("h"))

GET_CLIENT = select(*clients.c).where(clients.c.client_id == bindparam("id"))
GET_USER = select(*users.c).where(users.c.user_id == bindparam("id"))
GET_USER_BY_NAME = select(*users.c).where(users.c.username == bindparam("name"))
GET_GRANT = select(*grants.c).where(grants.c.grant_id == bindparam("id"))
GET_CONSENT = select(*consents.c).where(
    consents.c.user_id == bindparam("u"), consents.c.client_id == bindparam("c")
)


def upsert_consent(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (user_id, client_id) DO UPDATE`` for ``dialect``."""
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(consents)
    return stmt.on_conflict_do_update(
        index_elements=[consents.c.user_id, consents.c.client_id],
        set_={"scopes": stmt.excluded.scopes, "updated_at": stmt.excluded.updated_at},
    )
