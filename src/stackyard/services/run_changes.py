"""Changing a run's state: the transition check, its outbox entry, and what to enqueue after commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.errors import NotFound
from stackyard.core.runs import TERMINAL, RunState, RunType, check_transition
from stackyard.core.scheduling import RunView, startable
from stackyard.services.feedback import record_run_feedback
from stackyard.storage.tables import Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


RECHECK_AFTER = 2.0


@dataclass
class AfterCommit:
    """Queue messages owed once the transaction commits (never before: a worker could miss the rows)."""

    feedback: bool = False
    runs: set[int] = field(default_factory=set)
    # Runs to look at again in a few seconds rather than now.
    later: set[int] = field(default_factory=set)

    def send(self, platform: Platform) -> None:
        for run_id in sorted(self.runs):
            platform.tasks.execute_run(run_id)
        for run_id in sorted(self.later):
            platform.tasks.execute_run_later(run_id, RECHECK_AFTER)
        if self.feedback:
            platform.tasks.send_feedback()


@contextmanager
def unit_of_work(platform: Platform) -> Iterator[tuple[Session, AfterCommit]]:
    after = AfterCommit()
    with platform.sessions.begin() as session:
        yield session, after
    after.send(platform)


def locked_run(session: Session, run_id: int) -> tuple[Run, Stack]:
    """The run, its row locked until commit, and its stack: every change of a run's state starts here.

    On PostgreSQL (READ COMMITTED) two transactions could otherwise both read `confirmed` and both move
    the run on, the second UPDATE waiting for the first and then overwriting it: two workers applying one
    run, or a claim overwriting a person's cancel. SQLite's BEGIN IMMEDIATE already serialises writers.
    """
    run = session.scalar(select(Run).where(Run.id == run_id).with_for_update())
    if run is None:
        raise NotFound(f"no run {run_id}")
    stack = session.get(Stack, run.stack_id)
    assert stack is not None
    return run, stack


def change_state(
    session: Session,
    platform: Platform,
    after: AfterCommit,
    run: Run,
    stack: Stack,
    new: RunState,
    *,
    reason: str | None = None,
) -> None:
    current = RunState(run.state)
    check_transition(current, new)
    run.state = str(new)
    if reason is not None:
        run.reason = reason
    if new in (RunState.FAILED, RunState.CANCELED):
        run.failed_during = str(current)
    if new in TERMINAL:
        run.finished_at = utcnow()
        run.worker_id = None
    if new is RunState.QUEUED:
        run.worker_id = None
        run.heartbeat_at = None
    run.updated_at = utcnow()
    after.feedback |= record_run_feedback(session, platform, run, stack)


def startable_runs(session: Session, stack_id: int) -> list[int]:
    rows = session.execute(
        select(Run.id, Run.type, Run.state, Run.ref, Run.merge_request_iid, Run.ordered_at).where(
            Run.stack_id == stack_id, Run.state.not_in([str(s) for s in TERMINAL])
        )
    ).all()
    return startable(
        RunView(
            id=r.id,
            type=RunType(r.type),
            state=RunState(r.state),
            ref=r.ref,
            merge_request_iid=r.merge_request_iid,
            ordered_at=r.ordered_at,
        )
        for r in rows
    )


def dispatch(session: Session, after: AfterCommit, stack_id: int) -> None:
    """Enqueue every run of the stack that may start now; a run enqueued twice is claimed once."""
    after.runs.update(startable_runs(session, stack_id))
