"""Migrations create the whole schema on the selected backend and match the models."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from stackyard.bootstrap import Platform
from stackyard.storage.migrate import alembic_config, pending_revisions
from stackyard.storage.tables import Base, ModuleVersion, Stack


def test_schema_is_complete_and_current(platform: Platform) -> None:
    assert not pending_revisions(platform.engine)
    tables = set(inspect(platform.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_and_migrations_agree(platform: Platform) -> None:
    with platform.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}] == []


def _migrate(platform: Platform, action: str, revision: str) -> None:
    config = alembic_config()
    with platform.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def _seed_run(connection: Connection, now: datetime, *, stack: dict[str, object], run: dict[str, object]) -> None:
    """An integration, one stack (or module) and one run of it, written in SQL so any past schema takes them."""
    connection.execute(text(
        "INSERT INTO integrations (id, name, kind, api_url, token_encrypted, webhook_secret_encrypted, "
        "created_at, token_scopes, token_problems) VALUES (1, 'gl', 'gitlab', 'https://gl.example', :b, :b, "
        ":now, '[]', '[]')"), {"b": b"x", "now": now})
    connection.execute(text(
        "INSERT INTO stacks (id, name, kind, integration_id, repository, project_id, branch, project_root, "
        "watched_paths, vendor, commands, autodeploy, allow_forks, report_untouched, environment, secret_names, "
        "install_webhook, namespace, provider, created_at, updated_at) VALUES (:id, :name, :kind, 1, 'g/p', 7, "
        "'main', '', '[]', :vendor, '{}', false, false, :report_untouched, '{}', '[]', true, :namespace, "
        ":provider, :now, :now)"),
        {"namespace": None, "provider": None, "report_untouched": False, **stack, "now": now})
    connection.execute(text(
        "INSERT INTO runs (id, stack_id, type, state, trigger, commit_sha, ref, from_fork, log_truncated, "
        "cancel_requested, log_bytes, created_at, updated_at) VALUES (:id, :stack_id, :type, :state, :trigger, "
        ":sha, :ref, false, false, false, 0, :now, :now)"),
        {**run, "stack_id": stack["id"], "sha": "a" * 40, "now": now})


def test_0004_adds_module_versions_to_a_database_with_modules_and_runs(platform: Platform) -> None:
    """From 0003 with a module and its run in it, up to 0004 and back down again."""
    _migrate(platform, "downgrade", "0003")
    assert "module_versions" not in inspect(platform.engine).get_table_names()
    now = datetime.now(UTC)
    with platform.engine.begin() as connection:
        _seed_run(connection, now,
                  stack={"id": 1, "name": "vpc", "kind": "module", "vendor": "opentofu", "namespace": "platform",
                         "provider": "aws"},
                  run={"id": 1, "type": "test", "state": "finished", "trigger": "tag", "ref": "v1.0.0"})

    _migrate(platform, "upgrade", "head")
    archive = b"\x1f\x8b packed"
    with platform.sessions.begin() as session:
        session.add(ModuleVersion(module_id=1, version="1.0.0", tag="v1.0.0", commit_sha="a" * 40, run_id=1,
                                  archive=archive, archive_sha256=hashlib.sha256(archive).hexdigest(),
                                  size=len(archive)))
    with platform.sessions() as session:
        [row] = session.scalars(select(ModuleVersion))
        assert (row.state, row.archive, row.run_id, row.yanked_at) == ("published", archive, 1, None)
        assert row.published_at.tzinfo is not None
    with pytest.raises(IntegrityError), platform.sessions.begin() as session:
        session.add(ModuleVersion(module_id=1, version="1.0.0", tag="1.0.0", commit_sha="b" * 40,
                                  archive=b"", archive_sha256="", size=0))
    second_tag = (
        "INSERT INTO runs (id, stack_id, type, state, trigger, commit_sha, ref, from_fork, log_truncated, "
        "cancel_requested, log_bytes, created_at, updated_at) VALUES (:id, 1, 'test', 'queued', 'tag', :sha, "
        ":ref, false, false, false, 0, :now, :now)"
    )
    with platform.engine.begin() as connection:  # another tag on the same commit is a run of its own
        connection.execute(text(second_tag), {"id": 2, "sha": "a" * 40, "ref": "v1.0.1", "now": now})
    with pytest.raises(IntegrityError), platform.engine.begin() as connection:  # the same tag is not
        connection.execute(text(second_tag), {"id": 3, "sha": "a" * 40, "ref": "v1.0.1", "now": now})

    _migrate(platform, "downgrade", "0003")
    assert "module_versions" not in inspect(platform.engine).get_table_names()
    with platform.engine.connect() as connection:
        assert connection.execute(text("SELECT name, kind FROM stacks")).all() == [("vpc", "module")]
        assert connection.execute(text("SELECT id, ref FROM runs")).all() == [(1, "v1.0.0")]
    _migrate(platform, "upgrade", "head")
    assert not pending_revisions(platform.engine)


def test_deleting_a_module_deletes_its_versions(platform: Platform) -> None:
    with platform.sessions.begin() as session:
        session.execute(text(
            "INSERT INTO integrations (id, name, kind, api_url, token_encrypted, webhook_secret_encrypted, "
            "created_at, token_scopes, token_problems) VALUES (1, 'gl', 'gitlab', 'u', :b, :b, :now, '[]', '[]')"
        ), {"b": b"x", "now": datetime.now(UTC)})
        module = Stack(name="vpc", kind="module", integration_id=1, repository="g/p", vendor="opentofu")
        session.add(module)
        session.flush()
        session.add(ModuleVersion(module_id=module.id, version="1.0.0", tag="v1.0.0", commit_sha="a" * 40,
                                  archive=b"x", archive_sha256="", size=1))
    with platform.sessions.begin() as session:
        session.execute(delete(Stack))
    with platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ModuleVersion)) == 0


def test_0005_gives_outbox_items_their_stack_and_lets_untouched_statuses_go_without_a_run(
    platform: Platform,
) -> None:
    _migrate(platform, "downgrade", "0004")
    now = datetime.now(UTC)
    with platform.engine.begin() as connection:
        _seed_run(connection, now,
                  stack={"id": 4, "name": "app", "kind": "stack", "vendor": "commands", "report_untouched": True},
                  run={"id": 9, "type": "proposed", "state": "queued", "trigger": "push", "ref": "feature"})
        connection.execute(text(
            "INSERT INTO feedback (id, run_id, kind, channel, payload, state, attempts, next_attempt_at, result, "
            "created_at) VALUES (1, 9, 'status', 'status:4:x:feature', '{}', 'pending', 0, :now, '{}', :now)"),
            {"now": now})

    _migrate(platform, "upgrade", "head")
    with platform.engine.begin() as connection:
        assert connection.execute(text("SELECT id, stack_id, run_id FROM feedback")).all() == [(1, 4, 9)]
        connection.execute(text(
            "INSERT INTO feedback (id, stack_id, run_id, kind, channel, payload, state, attempts, next_attempt_at, "
            "result, created_at) VALUES (2, 4, NULL, 'status', 'status:4:y:main', '{}', 'pending', 0, :now, '{}', "
            ":now)"), {"now": now})
    with pytest.raises(IntegrityError), platform.engine.begin() as connection:  # every item has a stack
        connection.execute(text(
            "INSERT INTO feedback (id, stack_id, run_id, kind, channel, payload, state, attempts, next_attempt_at, "
            "result, created_at) VALUES (3, NULL, 9, 'status', 'c', '{}', 'pending', 0, :now, '{}', :now)"),
            {"now": now})

    _migrate(platform, "downgrade", "0004")
    with platform.engine.connect() as connection:
        assert connection.execute(text("SELECT id, run_id FROM feedback")).all() == [(1, 9)]
    _migrate(platform, "upgrade", "head")
    assert not pending_revisions(platform.engine)
