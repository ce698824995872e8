"""outbox items belong to a stack; a run is optional (report_untouched statuses have none)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 04:10:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("stack_id", sa.Integer(), nullable=True))
    op.execute(sa.text(
        "UPDATE feedback SET stack_id = (SELECT runs.stack_id FROM runs WHERE runs.id = feedback.run_id)"
    ))
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("stack_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("run_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key("fk_feedback_stack_id", "stacks", ["stack_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_feedback_stack_id", ["stack_id"], unique=False)


def downgrade() -> None:
    """Before 0005 every item had a run: the run-less ones (untouched statuses) are dropped."""
    op.execute(sa.text("DELETE FROM feedback WHERE run_id IS NULL"))
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_stack_id")
        batch.drop_constraint("fk_feedback_stack_id", type_="foreignkey")
        batch.drop_column("stack_id")
        batch.alter_column("run_id", existing_type=sa.Integer(), nullable=False)
