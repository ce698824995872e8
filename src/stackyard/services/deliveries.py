"""What happens to a stored delivery in the worker: parse, route to stacks, create runs, record why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.events import IgnoredEvent
from stackyard.core.ports import ForgeAuthError, ForgeError
from stackyard.core.runs import RunState, RunType, Trigger
from stackyard.core.scheduling import RunView, superseded
from stackyard.core.triggers import CompareQuery, RunRequest, decide, route, untouched
from stackyard.gitlab.parse import parse_delivery
from stackyard.logs import get_logger
from stackyard.services.feedback import (
    record_merge_request_comment,
    record_run_feedback,
    record_untouched_feedback,
)
from stackyard.services.integrations import forge_for
from stackyard.services.run_changes import AfterCommit, change_state, dispatch, unit_of_work
from stackyard.services.stacks import spec_of
from stackyard.services.token_health import note_token_failure, note_token_ok
from stackyard.storage.tables import Delivery, DeliveryRun, Integration, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)


def process_deliveries(platform: Platform, delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        process_delivery(platform, delivery_id)


def process_delivery(platform: Platform, delivery_id: int) -> list[int]:
    """Idempotent: a delivery already processed (e.g. re-enqueued by the sweeper) is left alone."""
    with platform.sessions() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.state != "received":
            return []
        integration = session.get(Integration, delivery.integration_id)
        assert integration is not None
        stacks = list(session.scalars(select(Stack).where(Stack.integration_id == integration.id)))
        specs = [spec_of(s, integration.name) for s in stacks]
        stack_ids = {s.name: s.id for s in stacks}
        body = orjson.loads(delivery.body)
        event = parse_delivery(delivery.event or None, body)
    if isinstance(event, IgnoredEvent):
        _finish(platform, delivery_id, outcome=event.reason, requests=[], stack_ids={})
        return []
    routing = route(event, specs)
    paths = None
    if routing.candidates and routing.paths_query is not None:
        forge = forge_for(platform, integration)
        query = routing.paths_query
        try:
            if isinstance(query, CompareQuery):
                paths = forge.changed_paths(query.project_id, query.from_sha, query.to_sha)
            else:
                paths = forge.merge_request_changed_paths(query.project_id, query.iid)
        except ForgeError as exc:
            # Without the changed files we cannot know which stacks care; run them all rather than miss one.
            log.warning("changed paths unavailable", delivery=delivery_id, error=str(exc))
            if isinstance(exc, ForgeAuthError):
                note_token_failure(platform, integration.id)
        else:
            if integration.token_failing_since is not None:
                note_token_ok(platform, integration.id)
    requests, outcome = decide(event, routing, paths)
    return _finish(
        platform, delivery_id, outcome=outcome, requests=requests, stack_ids=stack_ids,
        untouched_requests=untouched(event, routing, requests),
    )


def _finish(
    platform: Platform,
    delivery_id: int,
    *,
    outcome: str,
    requests: list[RunRequest],
    stack_ids: dict[str, int],
    untouched_requests: Sequence[RunRequest] = (),
) -> list[int]:
    run_ids: list[int] = []
    with unit_of_work(platform) as (session, after):
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        for spared in untouched_requests:
            stack = session.get(Stack, stack_ids[spared.stack]) if spared.stack in stack_ids else None
            if stack is not None:
                after.feedback |= record_untouched_feedback(
                    session, platform, stack, commit_sha=spared.commit_sha, ref=spared.ref
                )
        for request in requests:
            if request.stack not in stack_ids:
                continue
            run_id = _ensure_run(
                session, platform, after, stack_ids[request.stack], request, arrived=delivery.received_at
            )
            run_ids.append(run_id)
            session.merge(DeliveryRun(delivery_id=delivery_id, run_id=run_id))
        delivery.state = "processed"
        delivery.outcome = outcome
        delivery.processed_at = utcnow()
        # The runs just made, and tracked runs that waited for this delivery to be processed (execution.py).
        waiting = list(session.scalars(
            select(Run.stack_id)
            .join(Stack, Stack.id == Run.stack_id)
            .where(Stack.integration_id == delivery.integration_id, Run.state == str(RunState.QUEUED))
            .distinct()
        ))
        for stack_id in waiting:
            dispatch(session, after, stack_id)
    return run_ids


def _ensure_run(
    session: Session, platform: Platform, after: AfterCommit, stack_id: int, request: RunRequest, *, arrived: datetime
) -> int:
    """Runs are unique on (stack, commit, type): a push and the merge request update it causes share one.

    Tags are the exception: each is a version of its own, so a module gets one test run per commit *and tag*
    (a release candidate and its release are often the same commit).
    """
    same = select(Run.id).where(
        Run.stack_id == stack_id,
        Run.commit_sha == request.commit_sha,
        Run.type == str(request.type),
    )
    if request.trigger is Trigger.TAG:
        same = same.where(Run.trigger == str(Trigger.TAG), Run.ref == request.ref)
    else:
        same = same.where(Run.trigger.not_in([str(Trigger.MANUAL), str(Trigger.TAG)]))
    existing = session.scalar(same)
    stack = session.get(Stack, stack_id)
    assert stack is not None
    if existing is not None:
        if request.merge_request_iid is not None:
            shared = session.get(Run, existing)
            assert shared is not None
            if shared.merge_request_iid is None:
                shared.merge_request_iid = request.merge_request_iid
            after.feedback |= record_merge_request_comment(
                session, shared, stack, merge_request_iid=request.merge_request_iid
            )
        return existing
    with session.begin_nested():
        run = Run(
            stack_id=stack_id,
            type=str(request.type),
            state=str(RunState.QUEUED),
            trigger=str(request.trigger),
            commit_sha=request.commit_sha,
            ref=request.ref,
            merge_request_iid=request.merge_request_iid,
            from_fork=request.from_fork,
            ordered_at=arrived,
        )
        if request.blocked_reason:
            # Kept as a run that never starts, so GitLab's status (and the run page) says why.
            run.state = str(RunState.CANCELED)
            run.reason = request.blocked_reason
            run.finished_at = utcnow()
        session.add(run)
    after.feedback |= record_run_feedback(session, platform, run, stack)
    if not request.blocked_reason:
        _cancel_superseded(session, platform, after, run, stack)
    return run.id  # _finish dispatches every stack with queued runs, this one included


def _cancel_superseded(session: Session, platform: Platform, after: AfterCommit, new: Run, stack: Stack) -> None:
    waiting = session.scalars(
        select(Run).where(Run.stack_id == stack.id, Run.state == str(RunState.QUEUED), Run.id != new.id)
    ).all()
    views = {r.id: r for r in waiting}
    for run_id in superseded(_view(new), [_view(r) for r in waiting]):
        change_state(
            session, platform, after, views[run_id], stack, RunState.CANCELED,
            reason=f"superseded by run {new.id} for {new.commit_sha[:8]}",
        )


def _view(run: Run) -> RunView:
    return RunView(
        id=run.id, type=RunType(run.type), state=RunState(run.state), ref=run.ref,
        merge_request_iid=run.merge_request_iid, ordered_at=run.ordered_at,
    )


def describe_delivery(row: Delivery, integration_name: str, run_ids: list[int]) -> dict[str, object]:
    return {
        "id": row.id,
        "integration": integration_name,
        "event": row.event,
        "idempotency_key": row.idempotency_key,
        "received_at": row.received_at.isoformat(),
        "state": row.state,
        "outcome": row.outcome,
        "runs": run_ids,
    }
