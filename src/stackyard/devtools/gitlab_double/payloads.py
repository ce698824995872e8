"""Webhook payload builders shaped like GitLab's data builders (GITLAB.md B1-B5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entities import detailed_merge_status, head_pipeline, project_web_url
from .records import Commit, MergeRequest, Note, Project, User
from .repository import tree_changes

if TYPE_CHECKING:
    from .state import State

JSON = dict[str, Any]

PUSH_COMMIT_LIMIT = 20
"""GITLAB.md B2: the newest 20 commits are listed, ascending; total_commits_count stays real."""

STATE_IDS = {"opened": 1, "closed": 2, "merged": 3, "locked": 4}


def hook_time(iso: str | None) -> str | None:
    """MR and note hooks render times as "2013-12-03 17:23:34 UTC" (GITLAB.md B4)."""
    if iso is None:
        return None
    return iso[:19].replace("T", " ") + " UTC"


def _urls(state: State, project: Project) -> tuple[str, str, str]:
    web = project_web_url(state, project)
    host = state.external_url.split("://", 1)[-1]
    return web, f"{web}.git", f"git@{host}:{project.path_with_namespace}.git"


def hook_project(state: State, project: Project) -> JSON:
    """Project#hook_attrs (GITLAB.md B1)."""
    web, http, ssh = _urls(state, project)
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": ssh,
        "git_http_url": http,
        "namespace": project.namespace_path.rsplit("/", 1)[-1],
        "visibility_level": project.visibility_level,
        "path_with_namespace": project.path_with_namespace,
        "default_branch": project.default_branch,
        "ci_config_path": None,
        "homepage": web,
        "url": ssh,
        "ssh_url": ssh,
        "http_url": http,
    }


def hook_repository(state: State, project: Project, *, push: bool) -> JSON:
    web, http, ssh = _urls(state, project)
    body: JSON = {"name": project.name, "url": ssh, "description": project.description, "homepage": web}
    if push:
        body.update({"git_http_url": http, "git_ssh_url": ssh, "visibility_level": project.visibility_level})
    return body


def hook_user(user: User) -> JSON:
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "avatar_url": None,
        "email": user.public_email or "[REDACTED]",
    }


def hook_commit(state: State, project: Project, commit: Commit, *, with_changes: bool) -> JSON:
    author = state.user(commit.author_id)
    body: JSON = {
        "id": commit.sha,
        "message": commit.message,
        "title": commit.title,
        "timestamp": commit.timestamp,
        "url": f"{project_web_url(state, project)}/-/commit/{commit.sha}",
        "author": {"name": author.name, "email": author.public_email or "[REDACTED]"},
    }
    if with_changes:
        parent_tree = state.commits[commit.parents[0]].tree if commit.parents else {}
        added, modified, removed = tree_changes(parent_tree, commit.tree)
        body.update({"added": added, "modified": modified, "removed": removed})
    return body


def push(
    state: State,
    project: Project,
    *,
    kind: str,
    ref: str,
    before: str,
    after: str,
    checkout_sha: str | None,
    commit_shas: list[str],
    user: User,
    message: str | None = None,
) -> JSON:
    """Push and Tag Push payloads share one envelope (GITLAB.md B2, B3); commit_shas ascending."""
    listed = commit_shas[-PUSH_COMMIT_LIMIT:]
    return {
        "object_kind": kind,
        "event_name": kind,
        "before": before,
        "after": after,
        "ref": ref,
        "ref_protected": ref == f"refs/heads/{project.default_branch}",
        "checkout_sha": checkout_sha,
        "message": message,
        "user_id": user.id,
        "user_name": user.name,
        "user_username": user.username,
        "user_email": user.public_email or "",
        "user_avatar": None,
        "project_id": project.id,
        "project": hook_project(state, project),
        "commits": [
            hook_commit(state, project, state.commits[sha], with_changes=True) for sha in listed
        ],
        "total_commits_count": len(commit_shas),
        "push_options": {},
        "repository": hook_repository(state, project, push=True),
    }


def mr_attributes(state: State, mr: MergeRequest) -> JSON:
    """The MR block shared by MR hooks and note hooks (GITLAB.md B4, B5)."""
    target = state.projects[mr.project_id]
    source = state.projects.get(mr.source_project_id)
    found = head_pipeline(state, mr)
    last_commit = state.commits.get(mr.head_sha)
    return {
        "id": mr.id,
        "iid": mr.iid,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "state_id": STATE_IDS[mr.state],
        "source_branch": mr.source_branch,
        "target_branch": mr.target_branch,
        "source_project_id": mr.source_project_id,
        "target_project_id": mr.project_id,
        "source": hook_project(state, source) if source else None,
        "target": hook_project(state, target),
        "last_commit": hook_commit(state, target, last_commit, with_changes=False) if last_commit else None,
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "merge_status": "unchecked" if mr.state == "opened" else "can_be_merged",
        "detailed_merge_status": detailed_merge_status(state, mr),
        "head_pipeline_id": found.id if found else None,
        "merge_commit_sha": mr.merge_commit_sha,
        "merge_user_id": mr.merge_user_id,
        "merge_when_pipeline_succeeds": False,
        "merge_error": None,
        "merge_params": {"force_remove_source_branch": False},
        "author_id": mr.author_id,
        "assignee_id": None,
        "assignee_ids": [],
        "reviewer_ids": [],
        "milestone_id": None,
        "labels": [{"title": label} for label in mr.labels],
        "blocking_discussions_resolved": True,
        "first_contribution": False,
        "created_at": hook_time(mr.created_at),
        "updated_at": hook_time(mr.updated_at),
        "last_edited_at": None,
        "last_edited_by_id": None,
        "updated_by_id": mr.updated_by_id,
        "time_estimate": 0,
        "total_time_spent": 0,
        "time_change": 0,
        "human_time_estimate": None,
        "human_total_time_spent": None,
        "human_time_change": None,
        "url": f"{project_web_url(state, target)}/-/merge_requests/{mr.iid}",
    }


def merge_request(
    state: State,
    mr: MergeRequest,
    *,
    action: str,
    user: User,
    changes: JSON | None = None,
    oldrev: str | None = None,
) -> JSON:
    """Merge Request Hook; oldrev only when code changed (GITLAB.md B4)."""
    target = state.projects[mr.project_id]
    attributes = {**mr_attributes(state, mr), "action": action}
    if oldrev:
        attributes["oldrev"] = oldrev
    labels = [{"title": label} for label in mr.labels]
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": hook_user(user),
        "project": hook_project(state, target),
        "object_attributes": attributes,
        "labels": labels,
        "changes": changes or {},
        "assignees": [],
        "reviewers": [],
        "repository": hook_repository(state, target, push=False),
    }


def note(state: State, row: Note, *, action: str) -> JSON:
    """Note Hook on an MR (GITLAB.md B5); internal notes are confidential_note events."""
    project = state.projects[row.project_id]
    mr = state.mrs[(row.project_id, row.mr_iid)]
    author = state.user(row.author_id)
    web = project_web_url(state, project)
    return {
        "object_kind": "note",
        "event_type": "confidential_note" if row.internal else "note",
        "user": hook_user(author),
        "project_id": project.id,
        "project": hook_project(state, project),
        "object_attributes": {
            "id": row.id,
            "note": row.body,
            "noteable_type": "MergeRequest",
            "noteable_id": row.noteable_id,
            "author_id": row.author_id,
            "project_id": project.id,
            "created_at": hook_time(row.created_at),
            "updated_at": hook_time(row.updated_at),
            "system": row.system,
            "internal": row.internal,
            "confidential": row.internal,
            "line_code": None,
            "commit_id": None,
            "position": None,
            "type": None,
            "discussion_id": f"{row.id:040x}"[-40:],
            "attachment": None,
            "st_diff": None,
            "action": action,
            "url": f"{web}/-/merge_requests/{mr.iid}#note_{row.id}",
        },
        "repository": hook_repository(state, project, push=False),
        "merge_request": {**mr_attributes(state, mr)},
    }
