"""SQLAlchemy Core tables for the SQL stores (one ``MetaData``; schema owned by Alembic).

Encodings: scopes are space-joined strings (RFC 6749 §3.3 scope tokens contain no space),
lists and JWKs are JSON text, secrets sealed by the server are binary, and every time is an
integer count of epoch seconds. ``migrations/versions`` must create exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("client_name", Text, nullable=False),
    Column("redirect_uris", Text, nullable=False),  # JSON list
    Column("token_endpoint_auth_method", Text, nullable=False),
    Column("grant_types", Text, nullable=False),  # JSON list
    Column("scope", Text, nullable=True),  # NULL: any supported scope
    Column("secret_hash", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # 0002: registration metadata
    Column("application_type", Text, nullable=False, server_default="web"),
    Column("jwks", Text, nullable=True),  # JSON object
    Column("jwks_uri", Text, nullable=True),
    Column("client_secret_expires_at", BigInteger, nullable=False, server_default="0"),
    Column("dynamic", Boolean, nullable=False, server_default="0"),
    Column("last_used_at", BigInteger, nullable=True),
    Column("extra_metadata", Text, nullable=False, server_default="{}"),  # JSON object
)

grants = Table(
    "grants",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_grants_user_id", "user_id"),
    Index("ix_grants_client_id", "client_id"),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", Text, primary_key=True),
    Column("grant_id", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("code_challenge", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("consumed_at", BigInteger, nullable=True),
    Index("ix_authorization_codes_grant_id", "grant_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("grant_id", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("rotated_at", BigInteger, nullable=True),
    Column("successor", LargeBinary, nullable=True),  # sealed response, for grace retries
    Index("ix_refresh_tokens_grant_id", "grant_id"),
)

consents = Table(
    "consents",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("client_id", Text, primary_key=True),
    Column("scopes", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", Text, primary_key=True),
    Column("alg", Text, nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # encrypted PEM
    Column("public_jwk", Text, nullable=False),  # JSON object
    Column("created_at", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", BigInteger, nullable=False),
    Column("event", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("user_id", Text, nullable=True),
    Column("client_id", Text, nullable=True),
    Column("grant_id", Text, nullable=True),
    Column("address", Text, nullable=True),
    Column("detail", Text, nullable=False),
    Index("ix_audit_events_at", "at"),
)
