"""manual runs may repeat a commit; runs keep the order their deliveries arrived in

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 00:40:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("trigger != 'manual'")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_stack_commit_type", type_="unique")
    op.create_index(
        "uq_runs_stack_commit_type",
        "runs",
        ["stack_id", "commit_sha", "type"],
        unique=True,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("uq_runs_stack_commit_type", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.create_unique_constraint("uq_runs_stack_commit_type", ["stack_id", "commit_sha", "type"])
        batch.drop_column("ordered_at")
