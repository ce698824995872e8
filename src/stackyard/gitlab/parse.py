"""Turn one GitLab webhook delivery into a core event, by a table keyed on what GitLab says it sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic import ValidationError

from stackyard.core.events import (
    ZERO_SHA,
    Event,
    IgnoredEvent,
    MergeRequestEvent,
    NoteEvent,
    ProjectRef,
    PushEvent,
    TagPushEvent,
)
from stackyard.gitlab.payloads import (
    MergeRequestNotePayload,
    MergeRequestPayload,
    ProjectPayload,
    PushPayload,
    TagPushPayload,
)


class _Parser(NamedTuple):
    label: str  # names the event in "could not parse <label> event: ..."
    parse: Callable[[dict[str, Any]], Event]


def _project(project: ProjectPayload | None, project_id: int) -> ProjectRef:
    return ProjectRef(
        id=project_id,
        path=(project.path_with_namespace if project else None) or "",
        web_url=(project.web_url if project else None) or "",
    )


def _changed_paths(payload: PushPayload) -> frozenset[str] | None:
    """None tells the router to ask GitLab's compare API, because the payload cannot be trusted."""
    if payload.after == ZERO_SHA:
        return frozenset()
    listed = len(payload.commits)
    total = payload.total_commits_count if payload.total_commits_count is not None else listed
    if total > listed:
        # GitLab lists only the newest 20 commits; total_commits_count is the real count (GITLAB.md B2).
        return None
    if listed == 0 and payload.before not in (ZERO_SHA, payload.after):
        # A force-push back to an older commit lists no commits yet changes the tree (GITLAB.md B2,
        # "Force-push"). A new branch at an existing commit (before = zeros) really changes nothing.
        return None
    return frozenset(
        path
        for commit in payload.commits
        for path in (*commit.added, *commit.modified, *commit.removed)
    )


def _push(body: dict[str, Any]) -> Event:
    payload = PushPayload.model_validate(body)
    project_id = payload.resolved_project_id
    assert project_id is not None  # the model refuses payloads without one
    return PushEvent(
        project=_project(payload.project, project_id),
        branch=payload.branch,
        before=payload.before,
        after=payload.after,
        user_username=payload.user_username or "",
        changed_paths=_changed_paths(payload),
        total_commits_count=max(payload.total_commits_count or 0, len(payload.commits)),
    )


def _tag_push(body: dict[str, Any]) -> Event:
    payload = TagPushPayload.model_validate(body)
    project_id = payload.resolved_project_id
    assert project_id is not None
    deleted = payload.after == ZERO_SHA
    return TagPushEvent(
        project=_project(payload.project, project_id),
        tag=payload.tag,
        before=payload.before,
        after=payload.after,
        user_username=payload.user_username or "",
        # Lightweight tags may arrive without checkout_sha in older captures; `after` is the commit then.
        checkout_sha=None if deleted else (payload.checkout_sha or payload.after),
    )


def _merge_request(body: dict[str, Any]) -> Event:
    payload = MergeRequestPayload.model_validate(body)
    attrs = payload.object_attributes
    assert payload.project.id is not None
    return MergeRequestEvent(
        project=_project(payload.project, payload.project.id),
        iid=attrs.iid,
        action=attrs.action or "",
        state=attrs.state or "",
        source_branch=attrs.source_branch,
        target_branch=attrs.target_branch or "",
        source_project_id=attrs.source_project_id,
        head_sha=attrs.last_commit.id,
        user_username=(payload.user.username if payload.user else None) or "",
        # oldrev is present only when new commits were pushed (GITLAB.md B4).
        oldrev=attrs.oldrev,
        # `work_in_progress` is the deprecated alias older GitLab sends alone (GITLAB.md B4).
        draft=attrs.draft if attrs.draft is not None else bool(attrs.work_in_progress),
    )


def _merge_request_note(body: dict[str, Any]) -> Event:
    payload = MergeRequestNotePayload.model_validate(body)
    project_id = payload.resolved_project_id
    assert project_id is not None
    merge_request = payload.merge_request
    return NoteEvent(
        project=_project(payload.project, project_id),
        noteable_type=payload.object_attributes.noteable_type,
        body=payload.object_attributes.note or "",
        author_username=(payload.user.username if payload.user else None) or "",
        merge_request_iid=merge_request.iid,
        source_branch=merge_request.source_branch,
        source_project_id=merge_request.source_project_id,
        head_sha=merge_request.last_commit.id if merge_request.last_commit else None,
    )


_PUSH = _Parser("push", _push)
_TAG_PUSH = _Parser("tag push", _tag_push)
_MERGE_REQUEST = _Parser("merge request", _merge_request)
_MERGE_REQUEST_NOTE = _Parser("note", _merge_request_note)

# (X-Gitlab-Event, object_kind, detail) -> parser: the whole list of deliveries Stackyard acts on.
# detail is the noteable_type for notes and "" otherwise (see _detail).
_PARSERS: Mapping[tuple[str, str, str], _Parser] = MappingProxyType({
    ("Push Hook", "push", ""): _PUSH,
    ("Tag Push Hook", "tag_push", ""): _TAG_PUSH,
    ("Merge Request Hook", "merge_request", ""): _MERGE_REQUEST,
    ("Note Hook", "note", "MergeRequest"): _MERGE_REQUEST_NOTE,
    # Internal notes come with their own header when the hook asks for them (GITLAB.md A3, B5).
    ("Confidential Note Hook", "note", "MergeRequest"): _MERGE_REQUEST_NOTE,
})

# The header GitLab sends for each object_kind (GITLAB.md A3): the fallback when the header is missing.
_HEADER_FOR_KIND: Mapping[str, str] = MappingProxyType({
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "issue": "Issue Hook",
    "work_item": "Issue Hook",
    "pipeline": "Pipeline Hook",
    "build": "Job Hook",
    "deployment": "Deployment Hook",
    "release": "Release Hook",
    "wiki_page": "Wiki Page Hook",
    "emoji": "Emoji Hook",
    "feature_flag": "Feature Flag Hook",
    "access_token": "Resource Access Token Hook",
})
_CONFIDENTIAL_HEADERS: Mapping[str, str] = MappingProxyType({
    "Confidential Note Hook": "note",
    "Confidential Issue Hook": "issue",
})
# System hooks always send "System Hook" and older GitLab sent "Service Hook" for integrations, with
# the usual payloads: for those, object_kind alone says what arrived (GITLAB.md A3).
_ENVELOPE_HEADERS = frozenset({"System Hook", "Service Hook"})

# Known deliveries Stackyard chooses not to act on, keyed by (object_kind, detail), with the reason shown.
_NOT_ACTED_ON: Mapping[tuple[str, str], str] = MappingProxyType({
    ("pipeline", ""): "pipeline events are not acted on",
    ("build", ""): "job events are not acted on",
    ("deployment", ""): "deployment events are not acted on",
    ("release", ""): "release events are not acted on (module versions come from tag pushes)",
    ("issue", ""): "issue events are not acted on",
    ("work_item", ""): "work item events are not acted on",
    ("wiki_page", ""): "wiki page events are not acted on",
    ("emoji", ""): "emoji events are not acted on",
    ("feature_flag", ""): "feature flag events are not acted on",
    ("access_token", ""): "access token events are not acted on",
    ("note", "Issue"): "notes on issues are not acted on",
    ("note", "Commit"): "notes on commits are not acted on",
    ("note", "Snippet"): "notes on snippets are not acted on",
    ("merge_request", "approval"): "merge request approvals are not acted on",
})
# Approval hooks are merge request hooks that say nothing about the code (GITLAB.md B4, `action`).
_APPROVAL_ACTIONS = frozenset({"approved", "unapproved", "approval", "unapproval"})


def _detail(kind: str, body: dict[str, Any]) -> str:
    attributes = body.get("object_attributes")
    if not isinstance(attributes, dict):
        return ""
    if kind == "note":
        noteable_type = attributes.get("noteable_type")
        return noteable_type if isinstance(noteable_type, str) else ""
    action = attributes.get("action")
    if kind == "merge_request" and isinstance(action, str) and action in _APPROVAL_ACTIONS:
        return "approval"
    return ""


def _header_matches(header: str, kind: str) -> bool:
    return header == _HEADER_FOR_KIND.get(kind) or _CONFIDENTIAL_HEADERS.get(header) == kind


def _summary(error: ValidationError, *, limit: int = 3) -> str:
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'payload'}: {item['msg']}"
        for item in error.errors(include_url=False)[:limit]
    ]
    hidden = error.error_count() - limit
    return "; ".join(problems) + (f" (and {hidden} more)" if hidden > 0 else "")


def parse_delivery(event_header: str | None, body: dict[str, Any]) -> Event:
    """Never raises: a delivery that cannot be used becomes an IgnoredEvent whose reason is shown."""
    if not isinstance(body, dict):
        return IgnoredEvent(reason="payload is not a JSON object", event=str(event_header or ""))
    kind = body.get("object_kind")
    if not isinstance(kind, str) or not kind:
        return IgnoredEvent(reason="payload has no object_kind", event=str(event_header or ""))
    header = event_header.strip() if isinstance(event_header, str) else ""
    if not header or header in _ENVELOPE_HEADERS:
        header = _HEADER_FOR_KIND.get(kind, header)
    detail = _detail(kind, body)
    details = {"object_kind": kind, **({"noteable_type": detail} if kind == "note" and detail else {})}
    parser = _PARSERS.get((header, kind, detail))
    if parser is None:
        if kind in _HEADER_FOR_KIND and not _header_matches(header, kind):
            reason = f"X-Gitlab-Event {header!r} does not match object_kind {kind!r}"
        else:
            reason = _NOT_ACTED_ON.get((kind, detail)) or _unhandled_reason(kind, detail)
        return IgnoredEvent(reason=reason, event=header, details=details)
    try:
        return parser.parse(body)
    except ValidationError as error:
        return IgnoredEvent(
            reason=f"could not parse {parser.label} event: {_summary(error)}", event=header, details=details
        )


def _unhandled_reason(kind: str, detail: str) -> str:
    if kind == "note":
        return f"notes on {detail or 'unknown objects'} are not acted on"
    return f"{kind.replace('_', ' ')} events are not acted on"

