"""Client registration metadata and the audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("application_type", sa.Text(), nullable=False, server_default="web")
        )
        batch.add_column(sa.Column("jwks", sa.Text(), nullable=True))
        batch.add_column(sa.Column("jwks_uri", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "client_secret_expires_at", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
        batch.add_column(sa.Column("dynamic", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_used_at", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("extra_metadata", sa.Text(), nullable=False, server_default="{}")
        )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("grant_id", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("clients") as batch:
        for name in (
            "extra_metadata",
            "last_used_at",
            "dynamic",
            "client_secret_expires_at",
            "jwks_uri",
            "jwks",
            "application_type",
        ):
            batch.drop_column(name)
