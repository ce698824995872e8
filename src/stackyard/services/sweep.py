"""Periodic repair: work that was committed but never reached the queue is handed over again."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from stackyard.core.runs import EXECUTING, TERMINAL, RunState
from stackyard.logs import get_logger
from stackyard.runner.workspace import WorkspaceCache
from stackyard.services.feedback_sender import send_due_feedback
from stackyard.services.run_changes import change_state, dispatch, unit_of_work
from stackyard.storage.tables import Delivery, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)

# A delivery still "received" after this long lost its queue message (a crash between commit and enqueue,
# or the queue was down): processing is idempotent, so enqueueing it again is safe.
STALE_AFTER = timedelta(seconds=60)
# Unpacked sources stay this long after their last use: runs at one commit come in bursts.
SOURCE_KEPT_FOR = timedelta(hours=1)


def requeue_stale_deliveries(platform: Platform, *, older_than: timedelta = STALE_AFTER) -> list[int]:
    with platform.sessions() as session:
        ids = list(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.state == "received", Delivery.received_at < utcnow() - older_than)
                .order_by(Delivery.id)
                .limit(500)
            )
        )
    if ids:
        log.info("requeueing deliveries", count=len(ids))
        platform.tasks.process_deliveries(ids)
    return ids


def fail_dead_runs(platform: Platform, *, silent_for: timedelta | None = None) -> list[int]:
    """Runs whose worker stopped beating are failed, never re-run: an apply may have half happened."""
    limit = silent_for if silent_for is not None else timedelta(seconds=platform.settings.heartbeat_timeout)
    cutoff = utcnow() - limit
    failed: list[int] = []
    with unit_of_work(platform) as (session, after):
        dead = session.scalars(
            select(Run)
            .where(
                Run.state.in_([str(s) for s in EXECUTING]),
                # No heartbeat yet: judge by the last change of the run instead.
                func.coalesce(Run.heartbeat_at, Run.updated_at) < cutoff,
            )
            .order_by(Run.id)
            .with_for_update()
        ).all()
        for run in dead:
            stack = session.get(Stack, run.stack_id)
            assert stack is not None
            seen = run.heartbeat_at.isoformat(timespec="seconds") if run.heartbeat_at else "never"
            change_state(
                session, platform, after, run, stack, RunState.FAILED,
                reason=f"the worker running it ({run.worker_id or 'unknown'}) stopped while {run.state}: "
                f"no heartbeat since {seen}",
            )
            dispatch(session, after, stack.id)
            failed.append(run.id)
    if failed:
        log.warning("failed runs of dead workers", runs=failed)
    return failed


def redispatch_waiting_runs(platform: Platform, *, older_than: timedelta = STALE_AFTER) -> None:
    """A run committed as queued or confirmed whose queue message was lost is enqueued again (claims are idempotent)."""
    cutoff = utcnow() - older_than
    with unit_of_work(platform) as (session, after):
        rows = session.execute(
            select(Run.id, Run.stack_id, Run.state).where(
                Run.state.in_([str(RunState.QUEUED), str(RunState.CONFIRMED)]), Run.updated_at < cutoff
            )
        ).all()
        for stack_id in {r.stack_id for r in rows}:
            dispatch(session, after, stack_id)
        after.runs.update(r.id for r in rows if r.state == RunState.CONFIRMED)


def prune_run_workspaces(platform: Platform) -> None:
    """Removes the workspaces of runs that have ended (a discarded plan's saved files, say)."""
    with platform.sessions() as session:
        active = list(session.scalars(select(Run.id).where(Run.state.not_in([str(s) for s in TERMINAL]))))
    WorkspaceCache(platform.settings.workspace_dir).prune_workspaces(active)


def prune_workspaces(platform: Platform) -> None:
    prune_run_workspaces(platform)
    WorkspaceCache(platform.settings.workspace_dir).prune(unused_for=SOURCE_KEPT_FOR.total_seconds())


def sweep(platform: Platform) -> None:
    """The once-a-minute repair pass: lost messages, runs whose worker died, old workspaces."""
    requeue_stale_deliveries(platform)
    fail_dead_runs(platform)
    redispatch_waiting_runs(platform)
    send_due_feedback(platform)
    prune_workspaces(platform)
