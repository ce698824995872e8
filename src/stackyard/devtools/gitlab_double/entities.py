"""How the double renders its rows as GitLab API JSON (the Grape entities of lib/api/entities)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import (
    Commit,
    CommitStatus,
    Deployment,
    Environment,
    Hook,
    MergeRequest,
    Note,
    Pipeline,
    Project,
    Token,
    User,
)
from .repository import merge_base

if TYPE_CHECKING:
    from .state import State

JSON = dict[str, Any]

# GITLAB.md C5: every event flag a hook carries, with GitLab's defaults.
HOOK_DEFAULTS: dict[str, Any] = {
    "name": None,
    "description": None,
    "push_events": True,
    "tag_push_events": False,
    "merge_requests_events": False,
    "note_events": False,
    "confidential_note_events": False,
    "issues_events": False,
    "confidential_issues_events": False,
    "job_events": False,
    "pipeline_events": False,
    "wiki_page_events": False,
    "deployment_events": False,
    "releases_events": False,
    "feature_flag_events": False,
    "emoji_events": False,
    "resource_access_token_events": False,
    "repository_update_events": False,
    "enable_ssl_verification": True,
    "push_events_branch_filter": None,
    "branch_filter_strategy": "wildcard",
    "custom_webhook_template": None,
}


def project_web_url(state: State, project: Project) -> str:
    return f"{state.external_url}/{project.path_with_namespace}"


def user_basic(state: State, user: User) -> JSON:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": user.state,
        "locked": False,
        "avatar_url": None,
        "web_url": f"{state.external_url}/{user.username}",
        "bot": user.bot,
    }


def current_user(state: State, user: User) -> JSON:
    # GITLAB.md C7: GET /user adds the private fields for the token's own user.
    return {
        **user_basic(state, user),
        "created_at": user.created_at,
        "bio": "",
        "public_email": user.public_email,
        "email": user.email,
        "is_admin": False,
        "can_create_project": True,
        "two_factor_enabled": False,
        "external": False,
        "private_profile": False,
    }


def token(state: State, row: Token) -> JSON:
    return {
        "id": row.id,
        "name": row.name,
        "revoked": row.revoked,
        "created_at": row.created_at,
        "description": None,
        "scopes": list(row.scopes),
        "user_id": row.user_id,
        "last_used_at": state.now(),
        "active": not row.revoked,
        "expires_at": row.expires_at,
    }


def project(state: State, row: Project) -> JSON:
    web_url = project_web_url(state, row)
    namespace = row.namespace_path
    host = state.external_url.split("://", 1)[-1]
    return {
        "id": row.id,
        "name": row.name,
        "path": row.name,
        "name_with_namespace": row.path_with_namespace.replace("/", " / "),
        "path_with_namespace": row.path_with_namespace,
        "description": row.description,
        "default_branch": row.default_branch,
        "visibility": {0: "private", 10: "internal", 20: "public"}[row.visibility_level],
        "web_url": web_url,
        "http_url_to_repo": f"{web_url}.git",
        "ssh_url_to_repo": f"git@{host}:{row.path_with_namespace}.git",
        "namespace": {
            "id": abs(hash(namespace)) % 100000,
            "name": namespace.rsplit("/", 1)[-1],
            "path": namespace.rsplit("/", 1)[-1],
            "kind": "group",
            "full_path": namespace,
            "web_url": f"{state.external_url}/groups/{namespace}",
        },
        "archived": False,
        "created_at": row.created_at,
        "forked_from_project": {"id": row.forked_from_id} if row.forked_from_id else None,
        "permissions": {"project_access": {"access_level": 40}, "group_access": None},
        "only_allow_merge_if_pipeline_succeeds": row.only_allow_merge_if_pipeline_succeeds,
        "allow_merge_on_skipped_pipeline": row.allow_merge_on_skipped_pipeline,
        "merge_method": "merge",
        "ci_config_path": None,
    }


def commit(state: State, project_row: Project, row: Commit) -> JSON:
    author = state.user(row.author_id)
    return {
        "id": row.sha,
        "short_id": row.sha[:8],
        "title": row.title,
        "message": row.message,
        "author_name": author.name,
        "author_email": author.email,
        "authored_date": row.timestamp,
        "committer_name": author.name,
        "committer_email": author.email,
        "committed_date": row.timestamp,
        "created_at": row.timestamp,
        "parent_ids": list(row.parents),
        "web_url": f"{project_web_url(state, project_row)}/-/commit/{row.sha}",
    }


def status(state: State, row: CommitStatus) -> JSON:
    return {
        "id": row.id,
        "sha": row.sha,
        "ref": row.ref,
        "status": row.status,
        "name": row.name,
        "target_url": row.target_url,
        "description": row.description,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "allow_failure": False,
        "coverage": row.coverage,
        "pipeline_id": row.pipeline_id,
        "author": user_basic(state, state.user(row.user_id)),
    }


def pipeline_status(state: State, row: Pipeline) -> str:
    """Aggregate of the pipeline's live jobs (GITLAB.md C1, "How statuses appear on the MR")."""
    jobs = [s.status for s in state.status_rows if s.pipeline_id == row.id and not s.retried]
    if not jobs:
        return "created"
    if "failed" in jobs:
        return "failed"
    if "running" in jobs:
        return "running"
    if "pending" in jobs:
        return "pending"
    if all(job == "skipped" for job in jobs):
        return "skipped"
    if "canceled" in jobs:
        return "canceled"
    return "success"


def pipeline(state: State, row: Pipeline) -> JSON:
    return {
        "id": row.id,
        "iid": row.iid,
        "project_id": row.project_id,
        "sha": row.sha,
        "ref": row.ref,
        "status": pipeline_status(state, row),
        "source": row.source,
        "created_at": row.created_at,
        "web_url": f"{state.external_url}/-/pipelines/{row.id}",
    }


def head_pipeline(state: State, mr: MergeRequest) -> Pipeline | None:
    candidates = [
        p
        for p in state.pipelines.values()
        if p.project_id == mr.source_project_id and p.sha == mr.head_sha and p.ref == mr.source_branch
    ]
    return max(candidates, key=lambda p: p.id, default=None)


def detailed_merge_status(state: State, mr: MergeRequest) -> str:
    if mr.state != "opened":
        return "not_open"
    if mr.draft:
        return "draft_status"
    target = state.projects[mr.project_id]
    if target.only_allow_merge_if_pipeline_succeeds:
        found = head_pipeline(state, mr)
        verdict = pipeline_status(state, found) if found else "missing"
        if verdict in {"pending", "running", "created"}:
            return "ci_still_running"
        if verdict == "skipped" and target.allow_merge_on_skipped_pipeline:
            return "mergeable"
        if verdict != "success":
            return "ci_must_pass"
    return "mergeable"


def diff_refs(state: State, mr: MergeRequest) -> JSON:
    target = state.projects[mr.project_id]
    start = target.branches.get(mr.target_branch)
    base = merge_base(state.commits, mr.head_sha, start) if start else None
    return {"base_sha": base or start, "head_sha": mr.head_sha, "start_sha": start}


def merge_request(state: State, mr: MergeRequest, *, detailed: bool = False) -> JSON:
    target = state.projects[mr.project_id]
    web_url = f"{project_web_url(state, target)}/-/merge_requests/{mr.iid}"
    merge_user = state.user(mr.merge_user_id) if mr.merge_user_id else None
    body: JSON = {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_by": user_basic(state, merge_user) if merge_user else None,
        "merge_user": user_basic(state, merge_user) if merge_user else None,
        "merged_at": mr.merged_at,
        "closed_by": user_basic(state, state.user(mr.closed_by_id)) if mr.closed_by_id else None,
        "closed_at": mr.closed_at,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "user_notes_count": sum(
            1 for n in state.note_rows.values() if n.noteable_id == mr.id and not n.system
        ),
        "author": user_basic(state, state.user(mr.author_id)),
        "assignees": [],
        "assignee": None,
        "reviewers": [],
        "source_project_id": mr.source_project_id,
        "target_project_id": mr.project_id,
        "labels": list(mr.labels),
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": "can_be_merged" if mr.state == "opened" else "unchecked",
        "detailed_merge_status": detailed_merge_status(state, mr),
        "sha": mr.head_sha,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": None,
        "reference": f"!{mr.iid}",
        "references": {
            "short": f"!{mr.iid}",
            "relative": f"!{mr.iid}",
            "full": f"{target.path_with_namespace}!{mr.iid}",
        },
        "web_url": web_url,
        "has_conflicts": False,
        "blocking_discussions_resolved": True,
    }
    if detailed:
        found = head_pipeline(state, mr)
        body.update(
            {
                "diff_refs": diff_refs(state, mr),
                "head_pipeline": pipeline(state, found) if found else None,
                "pipeline": pipeline(state, found) if found else None,
                "merge_error": None,
                "first_contribution": False,
                "prepared_at": mr.created_at,
                "user": {"can_merge": True},
            }
        )
    return body


def note(state: State, row: Note) -> JSON:
    author = state.user(row.author_id)
    return {
        "id": row.id,
        "type": None,
        "body": row.body,
        "attachment": None,
        "author": user_basic(state, author),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "system": row.system,
        "noteable_id": row.noteable_id,
        "noteable_type": "MergeRequest",
        "noteable_iid": row.mr_iid,
        "project_id": row.project_id,
        "resolvable": False,
        "confidential": row.internal,
        "internal": row.internal,
        "imported": False,
        "imported_from": "none",
        "commands_changes": {},
    }


def environment(state: State, row: Environment, *, with_last_deployment: bool = False) -> JSON:
    body: JSON = {
        "id": row.id,
        "name": row.name,
        "slug": row.slug,
        "description": row.description,
        "external_url": row.external_url,
        "state": row.state,
        "tier": row.tier,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "auto_stop_at": None,
        "auto_stop_setting": "always",
        "kubernetes_namespace": None,
        "flux_resource_path": None,
    }
    if with_last_deployment:
        deployments = [d for d in state.deployment_rows.values() if d.environment_id == row.id]
        last = max(deployments, key=lambda d: d.id, default=None)
        body["last_deployment"] = deployment(state, last, nest_environment=False) if last else None
    return body


def deployment(state: State, row: Deployment, *, nest_environment: bool = True) -> JSON:
    project_row = state.projects[row.project_id]
    env = state.environment_rows[row.environment_id]
    body: JSON = {
        "id": row.id,
        "iid": row.iid,
        "ref": row.ref,
        "sha": row.sha,
        "tag": row.tag,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "finished_at": row.finished_at,
        "status": row.status,
        "user": user_basic(state, state.user(row.user_id)),
        "deployable": None,
        "commit": commit(state, project_row, state.commits[row.sha]),
    }
    if nest_environment:
        body["environment"] = {"id": env.id, "name": env.name, "external_url": env.external_url}
    return body


def hook(state: State, row: Hook) -> JSON:
    # GITLAB.md A4/C5: token and signing_token are write-only; only *_present is exposed.
    alert = "executable"
    if row.permanently_disabled:
        alert = "disabled"
    elif row.disabled_until is not None and row.disabled_until > state.clock():
        alert = "temporarily_disabled"
    return {
        "id": row.id,
        "url": row.url,
        "project_id": row.project_id,
        "created_at": row.created_at,
        **row.options,
        "alert_status": alert,
        "disabled_until": row.disabled_until,
        "url_variables": [],
        "custom_headers": [{"key": key} for key in row.custom_headers],
        "token_present": bool(row.token),
        "signing_token_present": bool(row.signing_token),
    }
