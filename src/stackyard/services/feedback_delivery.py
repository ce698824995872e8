"""Sending one claimed outbox item to GitLab and saying what became of it; no database access here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stackyard.core.plans import PlanSummary
from stackyard.core.ports import (
    Forge,
    ForgeAuthError,
    ForgeError,
    ForgeRateLimited,
    ForgeRefused,
    MergeRequestInfo,
    StatusTransitionRefused,
)
from stackyard.core.reports import comment_body, comment_marker, deployment_step, run_url
from stackyard.core.runs import RunState, RunType

# What an attempt came to. RETRY goes back to pending with a later next_attempt_at.
SENT = "sent"
SKIPPED = "skipped"
FAILED = "failed"
RETRY = "retry"


@dataclass(frozen=True)
class Claim:
    """A snapshot of one item and what its channel already told GitLab, taken when it was claimed."""

    item_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    # None for a report_untouched status: no run stands behind it.
    run_id: int | None
    run_type: str
    plan_text: str | None
    stack_id: int
    stack_name: str
    integration_id: int
    public_url: str
    # status: GitLab already refused a status on this fork's commit, so the comment carries it.
    fell_back: bool = False
    # deployment: {"deployment_id", "status"} of this run's deployment as last sent, if any.
    deployment: dict[str, Any] | None = None
    # deployment: since when a create of this run may have reached GitLab unheard (a retried create, or
    # one that gave up), and the deployment ids our runs of this stack and commit already hold, so what
    # a lost attempt left behind can be told from what others own. None: nothing can have been lost.
    lost_since: datetime | None = None
    owned_deployments: frozenset[int] = frozenset()
    # comment: merge request iid (as text) -> our note id there, from earlier comments of this stack.
    known_notes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    state: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retry_after: float | None = None
    # Refused for good (403, 404, a bad request): shown on the integration too.
    problem: bool = False
    # The token itself was refused (401): retried, and shown on the integration.
    auth: bool = False
    # A fork's commit refused the status: the merge request comment reports it instead.
    fallback: bool = False


# How much earlier than the item was written a lost deployment may look updated: GitLab's clock is
# not ours. Short, so an old deployment left running by another run is not even listed.
ADOPTION_SKEW = timedelta(minutes=2)
FORK_FALLBACK = "GitLab does not accept statuses on this fork's commit; the merge request comment reports it"


def _status(forge: Forge, claim: Claim) -> Outcome:
    p = claim.payload
    if claim.fell_back:
        return Outcome(FAILED, {"fallback": "comment"}, FORK_FALLBACK, fallback=True)
    try:
        forge.set_commit_status(
            int(p["project_id"]), str(p["sha"]),
            name=str(p["name"]), state=str(p["state"]), ref=str(p["ref"]),
            target_url=str(p["target_url"]), description=str(p["description"]),
        )
    except StatusTransitionRefused as exc:
        # "from :running" to running: an earlier attempt did land (say, an answer lost to a
        # timeout), and GitLab holds what we wanted (GITLAB.md C1).
        if exc.current == p["state"]:
            return Outcome(SENT, {"already": True})
        return Outcome(FAILED, error=exc.message, problem=True)
    except ForgeRefused as exc:
        if p.get("from_fork"):
            return Outcome(FAILED, {"fallback": "comment"}, f"{FORK_FALLBACK} ({exc.message})", fallback=True)
        raise
    return Outcome(SENT)


def _merge_requests(forge: Forge, claim: Claim) -> list[MergeRequestInfo]:
    """Every open merge request whose head is this commit: one push can move several (issue 5)."""
    p = claim.payload
    project_id, sha = int(p["project_id"]), str(p["sha"])
    found: dict[int, MergeRequestInfo] = {}
    iid = p.get("merge_request_iid")
    if iid is not None:
        try:
            mr = forge.merge_request(project_id, int(iid))
        except ForgeRefused as exc:
            if exc.status != 404:
                raise
        else:
            if mr.opened and mr.head_sha == sha:
                found[mr.iid] = mr
    if not p.get("from_fork"):
        # A fork's branch name says nothing about this project's branches (GITLAB.md C7).
        branch = str(p["ref"]).removeprefix("refs/heads/")
        for mr in forge.open_merge_requests(project_id, source_branch=branch, head_sha=sha):
            if mr.source_project_id == project_id:
                found[mr.iid] = mr
    return [found[key] for key in sorted(found)]


def _comment(forge: Forge, claim: Claim) -> Outcome:
    p = claim.payload
    project_id = int(p["project_id"])
    assert claim.run_id is not None, "comments are written by runs"
    summary = PlanSummary.from_dict(p["summary"]) if p.get("summary") else None
    link = run_url(claim.public_url, claim.run_id)
    body = comment_body(
        stack=claim.stack_name,
        run_id=claim.run_id,
        run_url=link,
        state=RunState(str(p["state"])),
        run_type=RunType(claim.run_type),
        summary=summary,
        plan_text=claim.plan_text,
        log_url=f"{link}#log",
        commit_sha=str(p["sha"]),
    )
    notes: dict[str, int] = {}
    for mr in _merge_requests(forge, claim):
        notes[str(mr.iid)] = forge.upsert_note(
            project_id, mr.iid, marker=comment_marker(claim.stack_name), body=body,
            note_id=claim.known_notes.get(str(mr.iid)),
        )
    return Outcome(SENT, {"notes": notes})


def _lost_deployment(forge: Forge, claim: Claim) -> int | None:
    """The deployment an earlier attempt created but never heard back about, if there is one.

    GitLab's POST has no idempotency key (C4): when its answer is lost (a timeout, a reset, a proxy's
    502 after GitLab committed), creating again leaves the first deployment `running` for ever. One
    of ours, on this commit and ref, touched since that create was first tried and not held by another
    of our runs (a re-run of the same commit), can only be that one.
    """
    if claim.lost_since is None:
        return None
    p = claim.payload
    sha, ref = str(p["sha"]).lower(), str(p["ref"])
    candidates = forge.running_deployments(
        int(p["project_id"]), environment=str(p["environment"]), updated_after=claim.lost_since - ADOPTION_SKEW
    )
    for deployment in candidates:
        if (deployment.ours and deployment.sha.lower() == sha and deployment.ref == ref
                and deployment.id not in claim.owned_deployments):
            return deployment.id
    return None


def _deployment(forge: Forge, claim: Claim) -> Outcome:
    p = claim.payload
    project_id, wanted = int(p["project_id"]), str(p["status"])
    existing = claim.deployment
    gave_up = wanted != "running" and claim.lost_since is not None
    step = deployment_step(existing["status"] if existing else None, wanted, create_gave_up=gave_up)
    if step is None:
        # GitLab would refuse it (C4: running -> running, a repeated final state), or the
        # deployment it would move was never created.
        return Outcome(SKIPPED, error=f"no deployment to move to {wanted}")
    if step == "update":
        assert existing is not None
        forge.update_deployment(project_id, int(existing["deployment_id"]), wanted)
        return Outcome(SENT, {"deployment_id": int(existing["deployment_id"])})
    environment_id = forge.ensure_environment(
        project_id, name=str(p["environment"]), external_url=str(p["external_url"])
    )
    result: dict[str, Any] = {"environment_id": environment_id}
    deployment_id = _lost_deployment(forge, claim)
    if deployment_id is not None:
        result["adopted"] = True
    else:
        deployment_id = forge.create_deployment(
            project_id, environment=str(p["environment"]), sha=str(p["sha"]), ref=str(p["ref"]), status="running"
        )
    if wanted != "running":
        # The final status after a create that gave up. Should this move fail, the retry finds the
        # deployment made above as the lost one (it is in the window, and recorded nowhere).
        forge.update_deployment(project_id, deployment_id, wanted)
    return Outcome(SENT, {"deployment_id": deployment_id, **result})


HANDLERS: dict[str, Callable[[Forge, Claim], Outcome]] = {
    "status": _status,
    "comment": _comment,
    "deployment": _deployment,
}


def deliver(forge: Forge, claim: Claim) -> Outcome:
    """One attempt. Transient trouble is RETRY; a refusal is FAILED; nothing raises past here."""
    try:
        return HANDLERS[claim.kind](forge, claim)
    except ForgeRateLimited as exc:
        return Outcome(RETRY, error=exc.message, retry_after=exc.retry_after)
    except ForgeAuthError as exc:
        # Nothing works until the token is replaced; keep the update so it lands once it is.
        return Outcome(RETRY, error=exc.message, auth=True)
    except ForgeRefused as exc:
        return Outcome(FAILED, error=exc.message, problem=True)
    except ForgeError as exc:
        return Outcome(RETRY, error=exc.message)
