"""Commit status routes with GitLab's placement rules and state machine (GITLAB.md C1)."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from . import entities
from .api import Answer, Context, paginate, sort_rows
from .errors import FORBIDDEN, ApiError, invalid, not_found
from .records import CommitStatus, Pipeline
from .routing import Route, route

STATES = ("pending", "running", "success", "failed", "canceled", "skipped")
TERMINAL = {"success", "failed", "canceled", "skipped"}
# state -> the commit_status.rb event that reaches it
EVENTS = {
    "pending": "enqueue",
    "running": "run",
    "success": "succeed",
    "failed": "drop",
    "canceled": "cancel",
    "skipped": "skip",
}
# (from, to) pairs the state machine refuses for a live (pending/running) job.
REFUSED = {("pending", "pending"), ("running", "pending"), ("running", "running"), ("running", "skipped")}
TOO_LONG = "is too long (maximum is 255 characters)"


def _validate(ctx: Context, ref: str | None) -> None:
    """Limits are rejected, not truncated; all errors come back together (GITLAB.md C1)."""
    errors: dict[str, list[str]] = {}
    description = ctx.text("description")
    target_url = ctx.text("target_url")
    if description is not None and len(description) > 255:
        errors["description"] = [TOO_LONG]
    if target_url:
        problems = []
        if len(target_url) > 255:
            problems.append(TOO_LONG)
        if urlparse(target_url).scheme not in {"http", "https"}:
            problems.append("is blocked: Only allowed schemes are http, https")
        if problems:
            errors["target_url"] = problems
    if ref is not None and len(ref) > 255:
        errors["ref"] = [TOO_LONG]
    if errors:
        raise invalid(errors)


def _pipeline(ctx: Context, project_id: int, sha: str, ref: str) -> Pipeline:
    double = ctx.double
    wanted = ctx.integer("pipeline_id")
    candidates = [
        p
        for p in double.pipelines.values()
        if p.project_id == project_id and p.sha == sha and p.ref == ref and (wanted is None or p.id == wanted)
    ]
    if candidates:
        return max(candidates, key=lambda p: p.id)
    if wanted is not None:
        raise not_found("Pipeline for pipeline_id, sha and ref")
    # No pipeline yet: GitLab creates one with source "external".
    iid = 1 + sum(1 for p in double.pipelines.values() if p.project_id == project_id)
    created = Pipeline(double.next_id("pipeline"), iid, project_id, sha, ref, "external", double.now(),
                       ctx.caller.id)
    double.pipelines[created.id] = created
    return created


def create_status(ctx: Context) -> Answer:
    state = ctx.choice("state", STATES, required=True)
    assert state is not None
    double = ctx.double
    if double.faults.take_status_conflict():
        # GITLAB.md C1 step 1: the per-(project, SHA) lock was busy; HTTP reason "Conflict".
        raise ApiError(409, {"message": "409 Conflict: another update to this commit status is in progress"})
    with double.lock:
        project = ctx.project()
        sha = double.resolve(project, unquote(ctx.path_params["sha"]))
        if sha is None:
            raise not_found("Commit")
        ref = ctx.text("ref")
        _validate(ctx, ref)
        if double.refuse_fork_statuses and not double.branches_containing(project, sha):
            raise ApiError(403, FORBIDDEN)
        if ref is None:
            containing = double.branches_containing(project, sha)
            if not containing:
                raise not_found("References for commit")
            ref = containing[0]
        name = ctx.text("name") or ctx.text("context") or "default"
        pipeline = _pipeline(ctx, project.id, sha, ref)
        live = next(
            (
                s
                for s in reversed(double.status_rows)
                if s.pipeline_id == pipeline.id and s.ref == ref and s.name == name
                and s.user_id == ctx.caller.id and s.status in {"pending", "running"} and not s.retried
            ),
            None,
        )
        now = double.now()
        if live is not None:
            if (live.status, state) in REFUSED:
                event = EVENTS[state]
                raise ApiError(
                    400,
                    {
                        "message": f"Cannot transition status via :{event} from :{live.status} "
                        f'(Reason(s): Status cannot transition via "{event}")'
                    },
                )
            row = live
        else:
            for older in double.status_rows:
                if older.pipeline_id == pipeline.id and older.name == name and older.ref == ref:
                    older.retried = True
            row = CommitStatus(
                id=double.next_id("job"),
                project_id=project.id,
                pipeline_id=pipeline.id,
                sha=sha,
                ref=ref,
                name=name,
                status="created",
                user_id=ctx.caller.id,
                target_url=None,
                description=None,
                coverage=None,
                created_at=now,
            )
            double.status_rows.append(row)
        row.status = state
        row.target_url = ctx.text("target_url", default=row.target_url)
        row.description = ctx.text("description", default=row.description)
        row.coverage = ctx.number("coverage") if ctx.has("coverage") else row.coverage
        if state == "running" and row.started_at is None:
            row.started_at = now
        if state in TERMINAL:
            row.finished_at = now
        return Answer(entities.status(double, row), status=201)


def list_statuses(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        project = ctx.project()
        sha = double.resolve(project, unquote(ctx.path_params["sha"]))
        if sha is None:
            raise not_found("Commit")
        rows = [s for s in double.status_rows if s.project_id == project.id and s.sha == sha]
        if not ctx.flag("all", False):
            rows = [s for s in rows if not s.retried]
        for field in ("ref", "name"):
            wanted = ctx.text(field)
            if wanted is not None:
                rows = [s for s in rows if getattr(s, field) == wanted]
        pipeline_id = ctx.integer("pipeline_id")
        if pipeline_id is not None:
            rows = [s for s in rows if s.pipeline_id == pipeline_id]
        rows = sort_rows(ctx, rows, keys={"id": lambda s: s.id, "pipeline_id": lambda s: s.pipeline_id},
                         default_order="id", default_sort="asc")
        return paginate(ctx, rows, lambda s: entities.status(double, s))


ROUTES: tuple[Route, ...] = (
    route("POST", "/projects/{id}/statuses/{sha}", create_status),
    route("GET", "/projects/{id}/repository/commits/{sha}/statuses", list_statuses),
)
