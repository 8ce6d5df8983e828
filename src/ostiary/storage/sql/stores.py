"""``SqlStorage``: every ``ostiary.storage.protocols.Storage`` method over SQLAlchemy Core.

Semantics are those of ``MemoryStorage``. Each call is one function run in one transaction
by a ``Runner``. Single use and rotation are conditional UPDATEs (``… WHERE consumed_at IS
NULL``, ``… WHERE rotated_at IS NULL …``), so the database picks exactly one winner among
racing callers, in this process or another.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Executable

from ostiary.core.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    ClientId,
    Consent,
    Grant,
    GrantId,
    RefreshToken,
    SigningKey,
    User,
    UserId,
)
from ostiary.storage.protocols import DuplicateError
from ostiary.storage.sql import codec
from ostiary.storage.sql import statements as q
from ostiary.storage.sql.direct import PostgresDirect
from ostiary.storage.sql.engine import (
    POSTGRES_POOL_SIZE,
    create_engine,
    create_sqlite_engine,
    is_memory_sqlite,
    is_sqlite_url,
)
from ostiary.storage.sql.migrate import upgrade_connection
from ostiary.storage.sql.runner import AsyncRunner, InlineSqliteRunner, Runner, ThreadRunner
from ostiary.storage.sql.tables import (
    audit_events,
    authorization_codes,
    clients,
    consents,
    grants,
    metadata,
    refresh_tokens,
    signing_keys,
    users,
)


class SqlStorage:
    """All stores in one SQL database, reached through ``runner``."""

    def __init__(self, runner: Runner) -> None:
        self._run = runner
        # One statement object per table, so its compiled form is cached (see ``direct``).
        self._inserts = {t.name: insert(t) for t in metadata.sorted_tables}
        self._upsert_consent = q.upsert_consent(runner.dialect)

    async def close(self) -> None:
        await self._run.close()

    async def _insert(self, table: Table, values: dict[str, Any], what: str) -> None:
        try:
            await self._run.first(self._inserts[table.name], values)
        except IntegrityError as exc:
            raise DuplicateError(what) from exc

    async def _first(self, stmt: Executable, params: dict[str, Any]) -> Any:
        return await self._run.first(stmt, params)

    async def _all(self, table: Table) -> list[Any]:
        return await self._run.read(lambda conn: list(conn.execute(select(*table.c))))

    async def _changed(self, stmt: Executable) -> bool:
        """Run a ``… RETURNING`` write; True if it touched a row."""
        return await self._run.first(stmt, {}) is not None

    # clients
    async def save_client(self, client: Client) -> None:
        await self._insert(clients, codec.client_values(client), client.client_id)

    async def get_client(self, client_id: ClientId) -> Client | None:
        row = await self._first(q.GET_CLIENT, {"id": client_id})
        return None if row is None else codec.to_client(row)

    async def list_clients(self) -> list[Client]:
        found = [codec.to_client(r) for r in await self._all(clients)]
        return sorted(found, key=lambda c: (c.created_at, c.client_id))

    async def delete_client(self, client_id: ClientId, now: int) -> bool:
        def work(conn: Connection) -> bool:
            gone = conn.execute(
                delete(clients)
                .where(clients.c.client_id == client_id)
                .returning(clients.c.client_id)
            ).first()
            if gone is None:
                return False
            _revoke_grants(conn, grants.c.client_id == client_id, now)
            return True

        return await self._run.write(work)

    async def touch_client(self, client_id: ClientId, now: int) -> None:
        stmt = update(clients).where(clients.c.client_id == client_id).values(last_used_at=now)
        await self._run.first(stmt, {})

    async def delete_unused_clients(self, before: int, now: int) -> int:
        last_use = func.coalesce(clients.c.last_used_at, clients.c.created_at)

        def work(conn: Connection) -> int:
            gone = [
                r[0]
                for r in conn.execute(
                    delete(clients)
                    .where(clients.c.dynamic.is_(True), last_use < before)
                    .returning(clients.c.client_id)
                )
            ]
            if gone:
                _revoke_grants(conn, grants.c.client_id.in_(gone), now)
            return len(gone)

        return await self._run.write(work)

    # users
    async def add_user(self, user: User) -> None:
        await self._insert(users, codec.user_values(user), user.username)

    async def get_user(self, user_id: UserId) -> User | None:
        row = await self._first(q.GET_USER, {"id": user_id})
        return None if row is None else codec.to_user(row)

    async def get_user_by_name(self, username: str) -> User | None:
        row = await self._first(q.GET_USER_BY_NAME, {"name": username})
        return None if row is None else codec.to_user(row)

    async def list_users(self) -> list[User]:
        found = [codec.to_user(r) for r in await self._all(users)]
        return sorted(found, key=lambda u: u.username)

    async def count_users(self) -> int:
        stmt = select(func.count()).select_from(users)
        return int(await self._run.read(lambda conn: conn.execute(stmt).scalar_one()))

    async def set_password(self, username: str, password_hash: str) -> bool:
        return await self._changed(
            update(users)
            .where(users.c.username == username)
            .values(password_hash=password_hash)
            .returning(users.c.user_id)
        )

    async def delete_user(self, username: str, now: int) -> bool:
        def work(conn: Connection) -> bool:
            user_id = conn.execute(
                delete(users).where(users.c.username == username).returning(users.c.user_id)
            ).scalar_one_or_none()
            if user_id is None:
                return False
            _revoke_grants(conn, grants.c.user_id == user_id, now)
            conn.execute(delete(consents).where(consents.c.user_id == user_id))
            return True

        return await self._run.write(work)

    # grants
    async def save_grant(self, grant: Grant) -> None:
        await self._insert(grants, codec.grant_values(grant), grant.grant_id)

    async def get_grant(self, grant_id: GrantId) -> Grant | None:
        row = await self._first(q.GET_GRANT, {"id": grant_id})
        return None if row is None else codec.to_grant(row)

    async def revoke_grant(self, grant_id: GrantId, now: int) -> bool:
        return await self._changed(
            update(grants)
            .where(grants.c.grant_id == grant_id, grants.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(grants.c.grant_id)
        )

    async def list_grants(
        self,
        *,
        user_id: UserId | None = None,
        client_id: ClientId | None = None,
        include_revoked: bool = False,
    ) -> list[Grant]:
        latest = (
            select(func.max(refresh_tokens.c.created_at))
            .where(refresh_tokens.c.grant_id == grants.c.grant_id)
            .scalar_subquery()
        )
        stmt = select(*grants.c, latest)
        if user_id is not None:
            stmt = stmt.where(grants.c.user_id == user_id)
        if client_id is not None:
            stmt = stmt.where(grants.c.client_id == client_id)
        if not include_revoked:
            stmt = stmt.where(grants.c.revoked_at.is_(None))
        rows = await self._run.read(lambda conn: list(conn.execute(stmt)))
        found = [
            replace(codec.to_grant(r), last_used_at=r[-1] if r[-1] is not None else r[6])
            for r in rows
        ]
        return sorted(found, key=lambda g: (-g.created_at, g.grant_id))

    # audit
    async def append_audit(self, event: AuditEvent) -> None:
        await self._run.first(self._inserts["audit_events"], codec.audit_values(event))

    async def append_audit_many(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        stmt, rows = self._inserts["audit_events"], [codec.audit_values(e) for e in events]

        def work(conn: Connection) -> None:
            conn.execute(stmt, rows)

        await self._run.write(work)

    async def list_audit(
        self, since: int = 0, limit: int = 1000, events: Collection[str] | None = None
    ) -> list[AuditEvent]:
        stmt = select(*audit_events.c).where(audit_events.c.at >= since)
        if events is not None:
            stmt = stmt.where(audit_events.c.event.in_(list(events)))
        stmt = stmt.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit)
        rows = await self._run.read(lambda conn: list(conn.execute(stmt)))
        return [codec.to_audit(r) for r in reversed(rows)]

    # authorization codes
    async def save_authorization_code(self, code: AuthorizationCode) -> None:
        await self._insert(authorization_codes, codec.code_values(code), "authorization code")

    async def consume_authorization_code(
        self, code_hash: str, now: int
    ) -> tuple[AuthorizationCode, bool] | None:
        row = await self._run.first(q.CONSUME_CODE, {"h": code_hash, "now": now})
        if row is not None:
            return codec.to_code(row), True
        row = await self._first(q.GET_CODE, {"h": code_hash})  # a replay, or unknown?
        return None if row is None else (codec.to_code(row), False)

    # refresh tokens
    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = await self._first(q.GET_REFRESH, {"h": token_hash})
        return None if row is None else codec.to_refresh(row)

    async def save_refresh_token(self, token: RefreshToken) -> None:
        await self._insert(refresh_tokens, codec.refresh_values(token), "refresh token")

    async def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, sealed: bytes, now: int
    ) -> bool:
        params = {"h": token_hash, "now": now, "sealed": sealed}
        values = codec.refresh_values(successor)
        try:
            if self._run.dialect == "postgresql":
                both = {**params, **{f"s_{k}": v for k, v in values.items()}}
                return await self._run.first(q.ROTATE_REFRESH_ONE_STATEMENT, both) is not None
            insert_refresh = self._inserts["refresh_tokens"]
            return await self._run.first_then(q.ROTATE_REFRESH, params, insert_refresh, values)
        except IntegrityError as exc:
            raise DuplicateError("refresh token") from exc

    # consents
    async def get_consent(self, user_id: UserId, client_id: ClientId) -> Consent | None:
        row = await self._first(q.GET_CONSENT, {"u": user_id, "c": client_id})
        return None if row is None else codec.to_consent(row)

    async def save_consent(self, consent: Consent) -> None:
        stmt, values = self._upsert_consent, codec.consent_values(consent)

        def work(conn: Connection) -> None:
            conn.execute(stmt, values)

        await self._run.write(work)

    # maintenance
    async def purge_expired(self, before: int) -> int:
        def work(conn: Connection) -> int:
            codes = conn.execute(
                delete(authorization_codes).where(authorization_codes.c.expires_at < before)
            )
            tokens = conn.execute(
                delete(refresh_tokens).where(refresh_tokens.c.expires_at < before)
            )
            return int(codes.rowcount) + int(tokens.rowcount)

        return await self._run.write(work)

    # signing keys
    async def save_signing_key(self, key: SigningKey) -> None:
        await self._insert(signing_keys, codec.key_values(key), key.kid)

    async def list_signing_keys(self) -> list[SigningKey]:
        found = [codec.to_key(r) for r in await self._all(signing_keys)]
        return sorted(found, key=lambda k: (k.created_at, k.kid))

    async def retire_signing_key(self, kid: str, now: int) -> bool:
        return await self._changed(
            update(signing_keys)
            .where(signing_keys.c.kid == kid, signing_keys.c.retired_at.is_(None))
            .values(retired_at=now)
            .returning(signing_keys.c.kid)
        )


def _revoke_grants(conn: Connection, which: Any, now: int) -> None:
    conn.execute(update(grants).where(which, grants.c.revoked_at.is_(None)).values(revoked_at=now))


def _runner(url: str) -> Runner:
    if is_sqlite_url(url):
        engine = create_sqlite_engine(url)
        if is_memory_sqlite(engine.url):  # one shared connection: the thread's
            return ThreadRunner(engine)
        return InlineSqliteRunner(engine, ThreadRunner(engine))
    pg = create_engine(url)
    direct = PostgresDirect(url, pg.dialect, POSTGRES_POOL_SIZE)
    return AsyncRunner(pg, create_engine(url, autocommit=True), direct)


async def open_storage(url: str) -> SqlStorage:
    """Connect to ``url`` (``sqlite:///path``, ``postgresql://…``), migrate, return the store."""
    runner = _runner(url)
    try:
        await runner.write(upgrade_connection)
    except BaseException:
        await runner.close()
        raise
    return SqlStorage(runner)


async def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the latest schema (a no-op when at head)."""
    storage = await open_storage(url)
    await storage.close()
