"""Migrations create the whole schema on the selected backend and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from stackyard.bootstrap import Platform
from stackyard.storage.migrate import pending_revisions
from stackyard.storage.tables import Base


def test_schema_is_complete_and_current(platform: Platform) -> None:
    assert not pending_revisions(platform.engine)
    tables = set(inspect(platform.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_and_migrations_agree(platform: Platform) -> None:
    with platform.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}] == []
