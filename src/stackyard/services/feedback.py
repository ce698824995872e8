"""Turning a run's new state into outbox rows: what GitLab should see next (sent by feedback_sender).

Every update is written in the caller's transaction, beside the run's own change, so nothing GitLab
should see can be lost between the database and the queue. Updates share a *channel* (one kind, one
stack, one commit, one ref) and are sent in id order within it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from stackyard.core.plans import PlanSummary
from stackyard.core.reports import (
    COMMENT_STATES,
    CommitStatusUpdate,
    commit_status_for,
    deployment_status_for,
    deployment_step,
    environment_name,
    run_url,
    should_post,
    stack_url,
    status_name,
    status_ref,
    untouched_status,
)
from stackyard.core.runs import RunState, RunType
from stackyard.storage.tables import Feedback, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

STATUS = "status"
COMMENT = "comment"
DEPLOYMENT = "deployment"

# Item states: waiting, claimed by a sender, done, made unnecessary by a newer item, given up.
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
SKIPPED = "skipped"
FAILED = "failed"
OPEN_STATES = (PENDING, SENDING)


def channel_for(kind: str, *, stack_id: int, commit_sha: str, ref: str) -> str:
    """One ordered stream of updates per kind, stack, commit and ref: GitLab keeps one commit status
    per (name, ref) pipeline (GITLAB.md C1), so two refs of one commit are independent."""
    return f"{kind}:{stack_id}:{commit_sha}:{ref}"


def channel_prefix(kind: str, *, stack_id: int, commit_sha: str) -> str:
    """What every `channel_for` of this kind, stack and commit (full or abbreviated) starts with."""
    return f"{kind}:{stack_id}:{commit_sha}"


def run_summary(run: Run) -> PlanSummary | None:
    if run.summary_add is None or run.summary_change is None or run.summary_destroy is None:
        return None
    return PlanSummary(run.summary_add, run.summary_change, run.summary_destroy)


def _last_item(session: Session, channel: str, *, run_id: int | None = None) -> Feedback | None:
    """The newest item of runs on the channel (of this run, when given); untouched statuses never count."""
    query = select(Feedback).where(Feedback.channel == channel, Feedback.run_id.is_not(None))
    if run_id is not None:
        query = query.where(Feedback.run_id == run_id)
    return session.scalar(query.order_by(Feedback.id.desc()).limit(1))


def _add(
    session: Session, run: Run, kind: str, channel: str, payload: dict[str, Any], *, due: datetime | None = None
) -> None:
    session.add(Feedback(stack_id=run.stack_id, run_id=run.id, kind=kind, channel=channel, payload=payload,
                         state=PENDING, next_attempt_at=due or utcnow()))


def _record_status(session: Session, platform: Platform, run: Run, stack: Stack, ref: str) -> bool:
    update = commit_status_for(
        run_type=RunType(run.type),
        state=RunState(run.state),
        autodeploy=stack.autodeploy,
        summary=run_summary(run),
        reason=run.reason,
        failed_during=RunState(run.failed_during) if run.failed_during else None,
    )
    channel = channel_for(STATUS, stack_id=stack.id, commit_sha=run.commit_sha, ref=ref)
    last = _last_item(session, channel)
    previous = (
        CommitStatusUpdate(state=str(last.payload["state"]), description=str(last.payload["description"]))
        if last is not None
        else None
    )
    # GitLab refuses a repeated state and running -> pending, and a description only changes with
    # the state (GITLAB.md C1): what it would refuse is never recorded, so never sent.
    if not should_post(previous, update):
        return False
    _add(session, run, STATUS, channel, {
        "project_id": stack.project_id,
        "sha": run.commit_sha,
        "ref": ref,
        "name": status_name(stack.name, module=stack.kind == "module"),
        "state": update.state,
        "description": update.description,
        "target_url": run_url(platform.settings.public_url, run.id),
        "from_fork": run.from_fork,
        "merge_request_iid": run.merge_request_iid,
        "run_state": run.state,
    })
    return True


def _record_deployment(session: Session, platform: Platform, run: Run, stack: Stack, ref: str) -> bool:
    wanted = deployment_status_for(run_type=RunType(run.type), state=RunState(run.state), summary=run_summary(run))
    channel = channel_for(DEPLOYMENT, stack_id=stack.id, commit_sha=run.commit_sha, ref=ref)
    last = _last_item(session, channel, run_id=run.id)
    existing = str(last.payload["status"]) if last is not None else None
    # Created only as `running`, then moved to a final state GitLab accepts (GITLAB.md C4).
    if deployment_step(existing, wanted) is None or wanted is None:
        return False
    _add(session, run, DEPLOYMENT, channel, {
        "project_id": stack.project_id,
        "sha": run.commit_sha,
        "ref": ref,
        "environment": environment_name(stack.name),
        "external_url": stack_url(platform.settings.public_url, stack.name),
        "status": wanted,
    })
    return True


def _comment_payload(run: Run, stack: Stack, wanted: dict[str, Any]) -> dict[str, Any]:
    return {
        "project_id": stack.project_id,
        "sha": run.commit_sha,
        "ref": run.ref,
        "from_fork": run.from_fork,
        "merge_request_iid": run.merge_request_iid,
        **wanted,
    }


def _comment_wanted(run: Run) -> dict[str, Any]:
    summary = run_summary(run)
    return {"state": RunState(run.state).value, "summary": summary.as_dict() if summary else None}


def _record_comment(session: Session, run: Run, stack: Stack, ref: str) -> bool:
    # A module's test says everything in its commit status; merge requests get no comment from it.
    if stack.kind == "module" or RunState(run.state) not in COMMENT_STATES:
        return False
    channel = channel_for(COMMENT, stack_id=stack.id, commit_sha=run.commit_sha, ref=ref)
    last = _last_item(session, channel, run_id=run.id)
    wanted = _comment_wanted(run)
    if last is not None and {k: last.payload.get(k) for k in wanted} == wanted:
        return False
    _add(session, run, COMMENT, channel, _comment_payload(run, stack, wanted))
    return True


def record_merge_request_comment(session: Session, run: Run, stack: Stack, *, merge_request_iid: int) -> bool:
    """A merge request opened on a commit whose run already ended: its comment goes there too.

    The run is shared (one per stack, commit and type), so no state change will bring the comment to a
    merge request opened after the push that made the run. Returns True when an item was added.
    """
    if stack.project_id is None or RunState(run.state) not in COMMENT_STATES:
        return False  # an earlier state: the comment is written later, to every open merge request
    ref = status_ref(run.ref, from_fork=run.from_fork, merge_request_iid=run.merge_request_iid)
    channel = channel_for(COMMENT, stack_id=stack.id, commit_sha=run.commit_sha, ref=ref)
    last = _last_item(session, channel, run_id=run.id)
    if last is not None and (last.state in OPEN_STATES or str(merge_request_iid) in (last.result or {}).get(
        "notes", {}
    )):
        return False  # still to be sent (it will find the new merge request), or already there
    session.flush()
    _add(session, run, COMMENT, channel, _comment_payload(run, stack, _comment_wanted(run)))
    return True


def record_run_feedback(session: Session, platform: Platform, run: Run, stack: Stack) -> bool:
    """Called in the same transaction as every change of a run's state (and of its summary).

    Returns True when something was added to the outbox; the caller then enqueues
    `platform.tasks.send_feedback()` after its commit.
    """
    if stack.project_id is None:
        return False
    session.flush()  # the run needs its id before an item can point at it
    ref = status_ref(run.ref, from_fork=run.from_fork, merge_request_iid=run.merge_request_iid)
    added = _record_status(session, platform, run, stack, ref)
    added = _record_deployment(session, platform, run, stack, ref) or added
    added = _record_comment(session, run, stack, ref) or added
    return added


def record_fallback_comment(session: Session, run: Run, stack: Stack, *, due: datetime) -> None:
    """A fork's commit refused our status: say it in the merge request comment instead (issue 5).
    `due` is the sender's clock, so the pass that saw the refusal also sends the comment."""
    ref = status_ref(run.ref, from_fork=run.from_fork, merge_request_iid=run.merge_request_iid)
    summary = run_summary(run)
    _add(session, run, COMMENT, channel_for(COMMENT, stack_id=stack.id, commit_sha=run.commit_sha, ref=ref), {
        "project_id": stack.project_id,
        "sha": run.commit_sha,
        "ref": run.ref,
        "from_fork": run.from_fork,
        "merge_request_iid": run.merge_request_iid,
        "state": run.state,
        "summary": summary.as_dict() if summary else None,
        "status_fallback": True,
    }, due=due)


def record_untouched_feedback(session: Session, platform: Platform, stack: Stack, *, commit_sha: str, ref: str) -> bool:
    """A passing status for a commit whose changes do not touch this stack (`report_untouched`).

    An outbox item without a run, in the caller's transaction like every other update, so a crash
    after the delivery is processed cannot lose it. Runs own the status: nothing is recorded when a
    run of this stack already reports on the commit, and the sender skips it if one does by then.
    Returns True when an item was added (the caller enqueues send_feedback after its commit).
    """
    if not stack.report_untouched or stack.project_id is None:
        return False
    channel = channel_for(STATUS, stack_id=stack.id, commit_sha=commit_sha, ref=ref)
    if session.scalar(select(Feedback.id).where(Feedback.channel == channel).limit(1)) is not None:
        return False
    update = untouched_status()
    session.add(Feedback(stack_id=stack.id, run_id=None, kind=STATUS, channel=channel, state=PENDING,
                         next_attempt_at=utcnow(), payload={
        "project_id": stack.project_id,
        "sha": commit_sha,
        "ref": ref,
        "name": status_name(stack.name, module=stack.kind == "module"),
        "state": update.state,
        "description": update.description,
        "target_url": stack_url(platform.settings.public_url, stack.name),
        "from_fork": False,
        "merge_request_iid": None,
    }))
    return True


def _why(item: Feedback) -> str | None:
    if item.state in (FAILED, SKIPPED, PENDING, SENDING):
        return item.last_error
    return None


def describe_item(item: Feedback) -> dict[str, object]:
    payload = item.payload
    what: dict[str, object]
    if item.kind == STATUS:
        what = {"name": payload.get("name"), "state": payload.get("state"),
                "description": payload.get("description"), "ref": payload.get("ref")}
    elif item.kind == DEPLOYMENT:
        what = {"environment": payload.get("environment"), "status": payload.get("status")}
    else:
        what = {"run_state": payload.get("state"), "summary": payload.get("summary")}
    return {
        "id": item.id,
        "kind": item.kind,
        "run": item.run_id,
        "commit": payload.get("sha"),
        "state": item.state,
        "update": what,
        "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at.isoformat() if item.state == PENDING else None,
        "error": _why(item),
        "result": item.result,
        "created_at": item.created_at.isoformat(),
        "sent_at": item.sent_at.isoformat() if item.sent_at else None,
    }


def describe_feedback(session: Session, run_id: int) -> list[dict[str, object]]:
    """Every outbox item of a run and its state, newest first, for `GET /api/v1/runs/{id}/feedback`."""
    items = session.scalars(select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.id.desc()))
    return [describe_item(item) for item in items]


def stack_feedback(stack_id: int, *, commit: str | None = None) -> Select[Feedback]:
    """A stack's or module's outbox items, those without a run too (report_untouched).

    For `GET /api/v1/stacks/{name}/feedback` and `GET /api/v1/modules/{name}/feedback`. `commit` is a
    full or abbreviated SHA, checked by the caller to be hex: it matches the channel's prefix
    (`channel_prefix`), so no JSON query is needed on either database.
    """
    query = select(Feedback).where(Feedback.stack_id == stack_id)
    if commit:
        query = query.where(or_(*(
            Feedback.channel.startswith(channel_prefix(kind, stack_id=stack_id, commit_sha=commit), autoescape=True)
            for kind in (STATUS, DEPLOYMENT, COMMENT)
        )))
    return query
