"""Decide which runs a GitLab event asks for: route it to candidate stacks, then pick the affected ones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stackyard.core.events import (
    Event,
    IgnoredEvent,
    MergeRequestEvent,
    NoteEvent,
    PushEvent,
    TagPushEvent,
)
from stackyard.core.runs import RunType, Trigger
from stackyard.core.stacks import StackSpec

FORK_BLOCKED = "merge requests from forks do not run on this stack"
PLAN_COMMAND = "/stackyard plan"

# Project and group access token users (GITLAB.md A9, C8), and the older `project12_bot3` form.
_BOT_USERNAME = re.compile(r"^(?:project|group)_?\d+_bot(?:_?[0-9a-z]+)?$")
# v1.2.3 or 1.2.3, with an optional pre-release and build part (semver.org).
_SEMVER_TAG = re.compile(
    r"^v?(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)
# Merge request states in which new commits cannot arrive (GITLAB.md B4, `state`).
_FINISHED_MR_STATES = frozenset({"closed", "merged", "locked"})


@dataclass(frozen=True)
class CompareQuery:
    project_id: int
    from_sha: str
    to_sha: str


@dataclass(frozen=True)
class MergeRequestChangesQuery:
    project_id: int
    iid: int


PathsQuery = CompareQuery | MergeRequestChangesQuery


@dataclass(frozen=True)
class Routing:
    """The stacks that could care, and the GitLab question whose answer picks among them."""

    candidates: tuple[StackSpec, ...]
    paths_query: PathsQuery | None
    reason: str


@dataclass(frozen=True)
class RunRequest:
    stack: str
    type: RunType
    trigger: Trigger
    commit_sha: str
    ref: str
    merge_request_iid: int | None = None
    from_fork: bool = False
    # Set when the run must not start; the caller reports it in a commit status instead.
    blocked_reason: str | None = None


@dataclass(frozen=True)
class PlanCommand:
    """`/stackyard plan` asks for every affected stack; `/stackyard plan <stack>` for that one, always."""

    stack: str | None = None


def is_bot_username(username: str) -> bool:
    return _BOT_USERNAME.match(username) is not None


def is_semver_tag(tag: str) -> bool:
    return _SEMVER_TAG.match(tag) is not None


def plan_command(body: str) -> PlanCommand | None:
    """Only the first line counts, so a quoted command further down a reply does not start runs."""
    lines = body.strip().splitlines()
    words = lines[0].split() if lines else []
    if words[:2] != PLAN_COMMAND.split() or len(words) > 3:
        return None
    return PlanCommand(stack=words[2] if len(words) == 3 else None)


def _empty(reason: str) -> Routing:
    return Routing(candidates=(), paths_query=None, reason=reason)


def _of_project(stacks: Sequence[StackSpec], project_id: int, *, kind: str) -> tuple[StackSpec, ...]:
    return tuple(s for s in stacks if s.project_id == project_id and s.kind == kind)


def _found(candidates: tuple[StackSpec, ...], query: PathsQuery | None, project_id: int) -> Routing:
    if not candidates:
        return _empty(f"no stack watches project {project_id}")
    return Routing(candidates, query, f"{len(candidates)} candidate stack(s) in project {project_id}")


def route(event: Event, stacks: Sequence[StackSpec]) -> Routing:
    """Step one. `stacks` are the integration's stacks; modules count only for tag pushes."""
    if isinstance(event, IgnoredEvent):
        return _empty(event.reason)
    if isinstance(event, PushEvent):
        return _route_push(event, stacks)
    if isinstance(event, TagPushEvent):
        return _route_tag(event, stacks)
    if isinstance(event, MergeRequestEvent):
        return _route_merge_request(event, stacks)
    return _route_note(event, stacks)


def _route_push(event: PushEvent, stacks: Sequence[StackSpec]) -> Routing:
    if event.deleted:
        return _empty("branch deleted")
    query: PathsQuery | None = None
    if event.changed_paths is None and not event.created:
        # The payload lists at most 20 commits (GITLAB.md B2): ask compare for before...after.
        query = CompareQuery(project_id=event.project.id, from_sha=event.before, to_sha=event.after)
    # A new branch whose commit list was cut has no `before` to compare with, and the event does not
    # carry the default branch's SHA: its paths stay unknown, and decide() treats every candidate
    # as affected (an extra plan is cheaper than a missed one).
    return _found(_of_project(stacks, event.project.id, kind="stack"), query, event.project.id)


def _route_tag(event: TagPushEvent, stacks: Sequence[StackSpec]) -> Routing:
    if event.deleted:
        return _empty("tag deleted")
    if not is_semver_tag(event.tag):
        return _empty(f"tag {event.tag} is not a semver version")
    modules = _of_project(stacks, event.project.id, kind="module")
    if not modules:
        return _empty(f"tag pushes only test modules, and no module watches project {event.project.id}")
    return Routing(modules, None, f"{len(modules)} module(s) in project {event.project.id}")


def _route_merge_request(event: MergeRequestEvent, stacks: Sequence[StackSpec]) -> Routing:
    if event.state in _FINISHED_MR_STATES:
        return _empty(f"merge request is {event.state}")
    if event.action == "update" and not event.oldrev:
        # GitLab sets oldrev only when new commits arrived; other updates are metadata (GITLAB.md B4).
        return _empty("merge request update without new commits starts nothing")
    if event.action not in {"open", "reopen", "update"}:
        action = f"action {event.action!r}" if event.action else "event without an action"
        return _empty(f"merge request {action} starts nothing")
    query = MergeRequestChangesQuery(project_id=event.project.id, iid=event.iid)
    return _found(_of_project(stacks, event.project.id, kind="stack"), query, event.project.id)


def _route_note(event: NoteEvent, stacks: Sequence[StackSpec]) -> Routing:
    if event.noteable_type != "MergeRequest" or event.merge_request_iid is None:
        return _empty(f"notes on {event.noteable_type or 'unknown objects'} start nothing")
    if is_bot_username(event.author_username):
        # Our own comments fire Note Hooks too (GITLAB.md A9 point 7, B5).
        return _empty(f"notes written by bot user {event.author_username} start nothing")
    command = plan_command(event.body)
    if command is None:
        return _empty(f"notes other than {PLAN_COMMAND} start nothing")
    if not event.head_sha:
        return _empty("the merge request has no commit to plan")
    candidates = _of_project(stacks, event.project.id, kind="stack")
    if command.stack is not None:
        named = tuple(s for s in candidates if s.name == command.stack)
        if not named:
            return _empty(f"no stack named {command.stack} watches project {event.project.id}")
        return Routing(named, None, f"{PLAN_COMMAND} {command.stack}")
    query = MergeRequestChangesQuery(project_id=event.project.id, iid=event.merge_request_iid)
    return _found(candidates, query, event.project.id)


def decide(
    event: Event, routing: Routing, changed_paths: frozenset[str] | None
) -> tuple[list[RunRequest], str]:
    """Step two. `changed_paths` answers routing.paths_query; None means unknown, so all candidates run."""
    if not routing.candidates:
        return [], routing.reason
    if changed_paths is None and isinstance(event, PushEvent):
        changed_paths = event.changed_paths
    if changed_paths is None or _ignores_paths(event):
        affected = routing.candidates
    else:
        affected = tuple(s for s in routing.candidates if s.affected_by(changed_paths))
    if not affected:
        return [], "no files changed" if changed_paths == frozenset() else "no stack's files changed"
    requests: dict[tuple[str, str, RunType], RunRequest] = {}
    for stack in affected:
        request = _request(event, stack)
        if request is not None:
            requests.setdefault((request.stack, request.commit_sha, request.type), request)
    return list(requests.values()), _outcome(list(requests.values()))


def untouched(event: Event, routing: Routing, requests: list[RunRequest]) -> list[RunRequest]:
    """Candidate stacks a push or merge request did not touch, as the run each would have had.

    Their commit gets a passing status when the stack asks for it (report_untouched), so projects
    with "Pipelines must succeed" can still merge a change that concerns no stack.
    """
    if isinstance(event, PushEvent) and event.deleted:
        return []
    if not isinstance(event, PushEvent | MergeRequestEvent):
        return []
    asked = {r.stack for r in requests}
    found = [_request(event, s) for s in routing.candidates if s.name not in asked]
    return [r for r in found if r is not None and r.blocked_reason is None]


def _ignores_paths(event: Event) -> bool:
    """A module version and a plan asked for by name run whatever the files changed."""
    if isinstance(event, TagPushEvent):
        return True
    if isinstance(event, NoteEvent):
        command = plan_command(event.body)
        return command is not None and command.stack is not None
    return False


def _request(event: Event, stack: StackSpec) -> RunRequest | None:
    if isinstance(event, PushEvent):
        tracked = stack.branch == event.branch
        return RunRequest(
            stack=stack.name,
            type=RunType.TRACKED if tracked else RunType.PROPOSED,
            trigger=Trigger.PUSH,
            commit_sha=event.after,
            ref=event.branch,
        )
    if isinstance(event, TagPushEvent):
        return RunRequest(
            stack=stack.name,
            type=RunType.TEST,
            trigger=Trigger.TAG,
            commit_sha=event.checkout_sha or event.after,
            ref=event.tag,
        )
    if isinstance(event, MergeRequestEvent):
        return _merge_request_run(
            stack,
            trigger=Trigger.MERGE_REQUEST,
            head_sha=event.head_sha,
            iid=event.iid,
            source_branch=event.source_branch,
            from_fork=event.from_fork,
        )
    if isinstance(event, NoteEvent) and event.head_sha and event.merge_request_iid is not None:
        return _merge_request_run(
            stack,
            trigger=Trigger.NOTE,
            head_sha=event.head_sha,
            iid=event.merge_request_iid,
            source_branch=event.source_branch or "",
            from_fork=event.source_project_id is not None and event.source_project_id != event.project.id,
        )
    return None


def _merge_request_run(
    stack: StackSpec, *, trigger: Trigger, head_sha: str, iid: int, source_branch: str, from_fork: bool
) -> RunRequest:
    # A fork's branch does not exist in the target project; its head does, under this ref (SPEC.md).
    ref = f"refs/merge-requests/{iid}/head" if from_fork or not source_branch else source_branch
    return RunRequest(
        stack=stack.name,
        type=RunType.PROPOSED,
        trigger=trigger,
        commit_sha=head_sha,
        ref=ref,
        merge_request_iid=iid,
        from_fork=from_fork,
        blocked_reason=FORK_BLOCKED if from_fork and not stack.allow_forks else None,
    )


def _outcome(requests: list[RunRequest]) -> str:
    started = [r for r in requests if r.blocked_reason is None]
    blocked = [r for r in requests if r.blocked_reason is not None]
    parts = []
    if started or not blocked:
        runs = ", ".join(f"{r.stack} ({r.type})" for r in started)
        parts.append(f"{len(started)} run{'' if len(started) == 1 else 's'}" + (f": {runs}" if runs else ""))
    if blocked:
        stacks = ", ".join(f"{r.stack} ({r.blocked_reason})" for r in blocked)
        parts.append(f"{len(blocked)} blocked: {stacks}")
    return "; ".join(parts)
