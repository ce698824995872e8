"""module versions: the packaged source of every semver tag whose test passed; one test run per tag

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 03:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNTAGGED = sa.text("trigger NOT IN ('manual', 'tag')")
_TAGGED = sa.text("trigger = 'tag'")
_NOT_MANUAL = sa.text("trigger != 'manual'")


def upgrade() -> None:
    op.create_table(
        "module_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("module_id", sa.Integer(), sa.ForeignKey("stacks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("yanked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.UniqueConstraint("module_id", "version"),
    )
    op.create_index("ix_module_versions_module_id", "module_versions", ["module_id"])
    op.drop_index("uq_runs_stack_commit_type", table_name="runs")
    op.create_index("uq_runs_stack_commit_type", "runs", ["stack_id", "commit_sha", "type"], unique=True,
                    sqlite_where=_UNTAGGED, postgresql_where=_UNTAGGED)
    op.create_index("uq_runs_stack_commit_tag", "runs", ["stack_id", "commit_sha", "type", "ref"], unique=True,
                    sqlite_where=_TAGGED, postgresql_where=_TAGGED)


def downgrade() -> None:
    """Before 0004 a commit had one tag run whatever its tags: later runs of other tags on it are dropped."""
    op.drop_index("uq_runs_stack_commit_tag", table_name="runs")
    op.execute(sa.text(
        "DELETE FROM runs WHERE trigger = 'tag' AND EXISTS (SELECT 1 FROM runs AS older WHERE "
        "older.trigger = 'tag' AND older.stack_id = runs.stack_id AND older.commit_sha = runs.commit_sha "
        "AND older.type = runs.type AND older.id < runs.id)"
    ))
    op.drop_index("uq_runs_stack_commit_type", table_name="runs")
    op.create_index("uq_runs_stack_commit_type", "runs", ["stack_id", "commit_sha", "type"], unique=True,
                    sqlite_where=_NOT_MANUAL, postgresql_where=_NOT_MANUAL)
    op.drop_index("ix_module_versions_module_id", table_name="module_versions")
    op.drop_table("module_versions")
