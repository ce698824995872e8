"""run engine, signing tokens, token health

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 00:05:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("signing_secret_encrypted", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("token_failing_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("managed_hooks") as batch:
        batch.add_column(sa.Column("signing_secret_encrypted", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("stacks") as batch:
        batch.add_column(sa.Column("time_limit", sa.Integer(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("failed_during", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("log_truncated", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("log_truncated")
        batch.drop_column("failed_during")
    with op.batch_alter_table("stacks") as batch:
        batch.drop_column("time_limit")
    with op.batch_alter_table("managed_hooks") as batch:
        batch.drop_column("signing_secret_encrypted")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("token_failing_since")
        batch.drop_column("signing_secret_encrypted")
