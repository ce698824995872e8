"""Run use cases for people: read, trigger by hand, confirm, discard, cancel."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.errors import Conflict, Invalid, NotFound
from stackyard.core.ports import ForgeAuthError, ForgeError
from stackyard.core.runs import EXECUTING, TERMINAL, RunState, RunType, Trigger
from stackyard.services.feedback import record_run_feedback
from stackyard.services.integrations import forge_for
from stackyard.services.run_changes import change_state, dispatch, locked_run, unit_of_work
from stackyard.services.stacks import get_stack
from stackyard.services.sweep import prune_run_workspaces
from stackyard.services.token_health import note_token_failure
from stackyard.storage.tables import Integration, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

_SHA = re.compile(r"[0-9a-fA-F]{7,64}\Z")


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def describe_run(run: Run, stack: Stack) -> dict[str, Any]:
    """SPEC.md's run fields, plus why it ended and whether a cancel is on its way."""
    known = run.summary_add is not None
    return {
        "id": run.id,
        "stack": stack.name if stack.kind == "stack" else None,
        "module": stack.name if stack.kind == "module" else None,
        "type": run.type,
        "state": run.state,
        "trigger": run.trigger,
        "commit_sha": run.commit_sha,
        "ref": run.ref,
        "merge_request_iid": run.merge_request_iid,
        "summary": (
            {"add": run.summary_add, "change": run.summary_change, "destroy": run.summary_destroy} if known else None
        ),
        "reason": run.reason,
        "failed_during": run.failed_during,
        "cancel_requested": run.cancel_requested,
        "log_truncated": run.log_truncated,
        "created_at": run.created_at.isoformat(),
        "updated_at": run.updated_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def trigger_run(platform: Platform, stack_name: str, *, run_type: str, sha: str | None) -> int:
    """A manual run of the tracked branch's head, or of a given commit."""
    try:
        wanted = RunType(run_type)
    except ValueError:
        raise Invalid("type must be 'proposed' or 'tracked'") from None
    if wanted is RunType.TEST:
        raise Invalid("type must be 'proposed' or 'tracked'")
    if sha is not None and not _SHA.match(sha):
        raise Invalid("sha must be 7 to 64 hexadecimal characters")
    with platform.sessions() as session:
        stack = get_stack(session, stack_name)
        integration = session.get(Integration, stack.integration_id)
        assert integration is not None
        project_id, branch = stack.project_id, stack.branch
    if project_id is None:
        raise Conflict(f"stack {stack_name} has no GitLab project yet: check its integration and repository")
    try:
        full_sha = forge_for(platform, integration).commit_sha(project_id, sha or branch)
    except ForgeError as exc:
        if isinstance(exc, ForgeAuthError):
            note_token_failure(platform, integration.id)
        raise Invalid(f"GitLab could not find {'commit ' + sha if sha else 'branch ' + branch}: {exc}") from exc
    with unit_of_work(platform) as (session, after):
        stack = get_stack(session, stack_name)
        busy = session.scalar(
            select(Run.id).where(
                Run.stack_id == stack.id,
                Run.commit_sha == full_sha,
                Run.type == str(wanted),
                Run.state.not_in([str(s) for s in TERMINAL]),
            )
        )
        if busy is not None:
            raise Conflict(f"run {busy} for {full_sha[:8]} has not ended yet: cancel it or wait for it")
        run = Run(
            stack_id=stack.id,
            type=str(wanted),
            state=str(RunState.QUEUED),
            trigger=str(Trigger.MANUAL),
            commit_sha=full_sha,
            ref=branch,
            ordered_at=utcnow(),
        )
        session.add(run)
        session.flush()
        after.feedback |= record_run_feedback(session, platform, run, stack)
        dispatch(session, after, stack.id)
        run_id = run.id
    return run_id


def confirm_run(platform: Platform, run_id: int) -> None:
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, run_id)
        if run.type != RunType.TRACKED or run.state != RunState.UNCONFIRMED:
            raise Conflict(f"run {run_id} is a {run.type} run in state {run.state}: only an unconfirmed tracked run "
                           "can be confirmed")
        change_state(session, platform, after, run, stack, RunState.CONFIRMED)
        after.runs.add(run.id)


def discard_run(platform: Platform, run_id: int) -> None:
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, run_id)
        if run.state != RunState.UNCONFIRMED:
            raise Conflict(f"run {run_id} is {run.state}: only an unconfirmed run can be discarded")
        change_state(session, platform, after, run, stack, RunState.DISCARDED, reason="discarded by a person")
        dispatch(session, after, stack.id)
    prune_run_workspaces(platform)


def cancel_run(platform: Platform, run_id: int) -> None:
    """Waiting runs end at once; executing ones are stopped by their worker (it kills the process group)."""
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, run_id)
        state = RunState(run.state)
        if state in TERMINAL:
            raise Conflict(f"run {run_id} is already {run.state}")
        if state in EXECUTING:
            run.cancel_requested = True
            return
        change_state(session, platform, after, run, stack, RunState.CANCELED, reason="canceled by a person")
        dispatch(session, after, stack.id)
    prune_run_workspaces(platform)
