"""Two workers, or a worker and a person, acting on one run at once on PostgreSQL: the loser stops.

READ COMMITTED lets a transaction read a row another one has changed but not committed; without the
run's row lock both would see `confirmed`, the second UPDATE would wait and then overwrite, and both
workers would apply (seen in tests/flows/test_worker_process.py as two applies of one run at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import select, text

from stackyard.bootstrap import Platform, create_platform
from stackyard.core.runs import RunState
from stackyard.services.execution import Job, _move, execute_run
from stackyard.settings import Settings
from stackyard.storage.migrate import upgrade
from stackyard.storage.tables import Run
from support.servers import PostgresServer, fresh_database
from support.ui_rows import add_integration, add_run, add_stack


@pytest.fixture
def pg_platform(pg: PostgresServer, tmp_path: Path) -> Iterator[Platform]:
    """PostgreSQL in both passes of `make test`: SQLite serialises writers and cannot show the race."""
    built = create_platform(Settings(data_dir=tmp_path / "data", database_url=fresh_database(pg)))  # type: ignore[call-arg]
    upgrade(built.engine)
    yield built
    built.engine.dispose()


def confirmed_run(platform: Platform) -> int:
    stack_id = add_stack(platform, name="app", integration_id=add_integration(platform))
    return add_run(platform, stack_id=stack_id, state="confirmed")


def while_another_transaction_sets(platform: Platform, run_id: int, state: str, act: Callable[[], None]) -> None:
    """Runs `act` in a thread while another transaction has moved the run to `state` but not committed,
    and commits that transaction once `act` waits for its lock."""
    with platform.engine.connect() as other:
        held = other.begin()
        other.execute(text("UPDATE runs SET state = :state WHERE id = :id"), {"state": state, "id": run_id})
        thread = threading.Thread(target=act)
        thread.start()
        with platform.engine.connect() as watcher:
            deadline = time.monotonic() + 30
            waiting = 0
            while waiting == 0 and time.monotonic() < deadline:
                waiting = watcher.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )) or 0
                # PostgreSQL keeps one snapshot of pg_stat_activity per transaction: without ending it,
                # a first look taken before the thread blocked would be all this loop ever saw.
                watcher.rollback()
            assert waiting == 1, "it never waited for the other transaction"
        held.commit()
    thread.join(timeout=60)
    assert not thread.is_alive()


def state_of(platform: Platform, run_id: int) -> str | None:
    with platform.sessions() as session:
        return session.scalar(select(Run.state).where(Run.id == run_id))


def test_a_worker_moving_a_run_another_worker_just_claimed_stops(pg_platform: Platform) -> None:
    run_id = confirmed_run(pg_platform)
    job = cast(Job, SimpleNamespace(run_id=run_id))
    moved: list[bool] = []
    while_another_transaction_sets(
        pg_platform, run_id, "applying",
        lambda: moved.append(_move(pg_platform, job, RunState.CONFIRMED, RunState.APPLYING)),
    )
    assert moved == [False]
    assert state_of(pg_platform, run_id) == "applying"


def test_a_run_cancelled_while_a_worker_claims_it_stays_cancelled(pg_platform: Platform) -> None:
    run_id = confirmed_run(pg_platform)
    while_another_transaction_sets(pg_platform, run_id, "canceled", lambda: execute_run(pg_platform, run_id))
    assert state_of(pg_platform, run_id) == "canceled"
