"""Deployment routes: GitLab's validations, its list filters and its deployment state machine (C4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import entities
from .api import Answer, Context, paginate, sort_rows
from .errors import ApiError, bad_request, invalid, not_found
from .records import Deployment
from .routes_environments import new_environment
from .routing import Route, route

DEPLOY_STATUSES = ("running", "success", "failed", "canceled")
LIST_STATUSES = ("created", "running", "success", "failed", "canceled", "blocked")
FINISHED_STATUSES = ("success", "failed", "canceled")
ORDER_KEYS: dict[str, Callable[[Deployment], Any]] = {
    "id": lambda d: d.id,
    "iid": lambda d: d.iid,
    "created_at": lambda d: d.created_at,
    "updated_at": lambda d: d.updated_at,
    "finished_at": lambda d: d.finished_at or "",
    "ref": lambda d: d.ref,
}

# app/models/deployment.rb: which current states each target status may be reached from.
ALLOWED_FROM = {
    "running": {"created", "blocked"},
    "success": {"created", "running", "failed", "canceled", "blocked", "skipped"},
    "failed": {"created", "running", "success", "canceled", "blocked", "skipped"},
    "canceled": {"created", "running", "success", "failed", "blocked", "skipped"},
}


def _deployment(ctx: Context) -> Deployment:
    row = ctx.double.deployment_rows.get(ctx.int_path("deployment_id", "Deployment"))
    if row is None or row.project_id != ctx.project().id:
        raise not_found("Deployment")
    return row


def create_deployment(ctx: Context) -> Answer:
    # GITLAB.md C4: all four are required (Grape lists every missing one).
    missing = [name for name in ("environment", "sha", "ref", "tag") if not ctx.has(name)]
    if not ctx.has("status"):
        missing.append("status")
    if missing:
        raise bad_request(", ".join(f"{name} is missing" for name in missing))
    status = ctx.choice("status", DEPLOY_STATUSES, required=True)
    assert status is not None
    double = ctx.double
    with double.lock:
        project = ctx.project()
        sha = ctx.required_text("sha")
        ref = ctx.required_text("ref")
        tag = bool(ctx.flag("tag"))
        resolved = double.resolve(project, sha)
        if resolved is None or not resolved.startswith(sha.lower()):
            raise invalid({"sha": ["The commit does not exist"]})
        if (ref not in project.tags) if tag else (ref not in project.branches):
            raise invalid({"ref": ["The branch or tag does not exist"]})
        name = ctx.required_text("environment")
        environment = double.environment_named(project, name) or new_environment(ctx, project, name)
        now = double.now()
        row = Deployment(
            id=double.next_id("deployment"),
            iid=1 + sum(1 for d in double.deployment_rows.values() if d.project_id == project.id),
            project_id=project.id,
            environment_id=environment.id,
            sha=resolved,
            ref=ref,
            tag=tag,
            status=status,
            user_id=ctx.caller.id,
            created_at=now,
            updated_at=now,
            finished_at=now if status != "running" else None,
        )
        double.deployment_rows[row.id] = row
        return Answer(entities.deployment(double, row), status=201)


def update_deployment(ctx: Context) -> Answer:
    status = ctx.choice("status", DEPLOY_STATUSES, required=True)
    assert status is not None
    double = ctx.double
    with double.lock:
        row = _deployment(ctx)
        if row.status not in ALLOWED_FROM[status]:
            # GITLAB.md C4: update_status returns false with no model errors.
            raise ApiError(400, {"message": {}})
        row.status = status
        row.updated_at = double.now()
        if status != "running":
            row.finished_at = row.updated_at
        return Answer(entities.deployment(double, row))


def _moment(ctx: Context, name: str) -> datetime | None:
    """A Grape DateTime parameter; a time without a zone is UTC, as Rails reads it."""
    text = ctx.text(name)
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name} is invalid") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _at(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def _inefficient(reason: str) -> ApiError:
    # lib/api/deployments.rb rescues DeploymentsFinder::InefficientQueryError with bad_request!.
    return ApiError(400, {"message": f"400 Bad request - {reason}"})


def _check_filters(*, order_by: str | None, status: str | None, by_updated: bool, by_finished: bool) -> None:
    """DeploymentsFinder#validate! (src app/finders/deployments_finder.rb): a time filter must be
    ordered by its own column, so `updated_after` needs `order_by=updated_at`."""
    if by_updated and by_finished:
        raise _inefficient("Both `updated_at` filter and `finished_at` filter can not be specified")
    if by_updated and order_by != "updated_at":
        raise _inefficient("`updated_at` filter requires `updated_at` sort")
    if by_finished and order_by != "finished_at":
        raise _inefficient("`finished_at` filter requires `finished_at` sort.")
    if order_by == "finished_at" and not (by_finished or status in FINISHED_STATUSES):
        raise _inefficient(
            "`finished_at` sort requires `finished_at` filter or a filter with at least one of the "
            "finished statuses."
        )
    if by_finished and status != "success":
        raise _inefficient("`finished_at` filter must be combined with `success` status filter.")


def _between(
    rows: list[Deployment], key: str, after: datetime | None, before: datetime | None
) -> list[Deployment]:
    """Inclusive bounds, as the updated_after/updated_before scopes compare (gteq, lteq)."""
    kept = []
    for row in rows:
        moment = _at(getattr(row, key))
        if moment is None:
            continue
        if (after is None or moment >= after) and (before is None or moment <= before):
            kept.append(row)
    return kept


def list_deployments(ctx: Context) -> Answer:
    double = ctx.double
    # Grape checks each parameter's value before the finder checks how they combine.
    order_by = ctx.choice("order_by", tuple(ORDER_KEYS))
    status = ctx.choice("status", LIST_STATUSES)
    updated = _moment(ctx, "updated_after"), _moment(ctx, "updated_before")
    finished = _moment(ctx, "finished_after"), _moment(ctx, "finished_before")
    by_updated, by_finished = updated != (None, None), finished != (None, None)
    _check_filters(order_by=order_by, status=status, by_updated=by_updated, by_finished=by_finished)
    with double.lock:
        project = ctx.project()
        rows = [d for d in double.deployment_rows.values() if d.project_id == project.id]
        environment = ctx.text("environment")
        if environment is not None:
            rows = [d for d in rows if double.environment_rows[d.environment_id].name == environment]
        if status is not None:
            rows = [d for d in rows if d.status == status]
        if by_updated:
            rows = _between(rows, "updated_at", *updated)
        if by_finished:
            rows = _between(rows, "finished_at", *finished)
        rows = sort_rows(ctx, rows, keys=ORDER_KEYS, default_order="id", default_sort="asc")
        return paginate(ctx, rows, lambda d: entities.deployment(double, d))


def get_deployment(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.deployment(ctx.double, _deployment(ctx)))


DEPLOYS = "/projects/{id}/deployments"
ROUTES: tuple[Route, ...] = (
    route("GET", DEPLOYS, list_deployments),
    route("POST", DEPLOYS, create_deployment),
    route("GET", DEPLOYS + "/{deployment_id}", get_deployment),
    route("PUT", DEPLOYS + "/{deployment_id}", update_deployment),
)
