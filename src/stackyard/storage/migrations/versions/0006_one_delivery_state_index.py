"""deliveries: one index on (state, received_at) instead of one on each

Every webhook delivery is inserted into every index of the table on the hot path. The sweeper and the
run engine ask for `state = 'received' AND received_at < …`, and /metrics counts by state: one
composite index serves all three, so a delivery costs one B-tree insert fewer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:30:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_received_at")
        batch.drop_index("ix_deliveries_state")
        batch.create_index("ix_deliveries_state_received_at", ["state", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_state_received_at")
        batch.create_index("ix_deliveries_state", ["state"], unique=False)
        batch.create_index("ix_deliveries_received_at", ["received_at"], unique=False)
