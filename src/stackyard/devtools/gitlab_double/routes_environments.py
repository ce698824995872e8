"""Environment and deployment routes with GitLab's validations and deployment state machine (C3, C4)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlparse

from . import entities
from .api import Answer, Context, paginate, sort_rows
from .errors import FORBIDDEN, ApiError, bad_request, invalid, not_found
from .records import Deployment, Environment, Project
from .routing import Route, route

TIERS = ("production", "staging", "testing", "development", "other")
DEPLOY_STATUSES = ("running", "success", "failed", "canceled")
LIST_STATUSES = ("created", "running", "success", "failed", "canceled", "blocked")
NAME_RULE = re.compile(r"^[a-zA-Z0-9 \-_/${}.]+$")
NAME_ERROR = (
    "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, "
    "but it cannot start or end with '/'"
)
# app/models/environment.rb#guess_tier, checked in this order.
TIER_GUESSES = (
    (re.compile(r"(dev|review|trunk)", re.I), "development"),
    (re.compile(r"(test|tst|int|ac(ce|)pt|qa|qc|control|quality)", re.I), "testing"),
    (re.compile(r"(st(a|)g|mod(e|)l|pre|demo|non)", re.I), "staging"),
    (re.compile(r"(pr(o|)d|live)", re.I), "production"),
)
# app/models/deployment.rb: which current states each target status may be reached from.
ALLOWED_FROM = {
    "running": {"created", "blocked"},
    "success": {"created", "running", "failed", "canceled", "blocked", "skipped"},
    "failed": {"created", "running", "success", "canceled", "blocked", "skipped"},
    "canceled": {"created", "running", "success", "failed", "blocked", "skipped"},
}
TOO_LONG = "is too long (maximum is 255 characters)"
BAD_SCHEME = "is blocked: Only allowed schemes are http, https"


def slugify(name: str) -> str:
    """Environment slug: ≤24 chars of [a-z0-9-], suffixed when it had to change (GITLAB.md C3)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "env-" + slug
    if slug != name or len(slug) > 24:
        suffix = hashlib.sha256(name.encode()).hexdigest()[:6]
        slug = slug[:17].rstrip("-") + "-" + suffix
    return slug


def _check_name(name: str) -> None:
    problems = []
    if len(name) > 255:
        problems.append(TOO_LONG)
    if not NAME_RULE.match(name) or name.startswith("/") or name.endswith("/"):
        problems.append(NAME_ERROR)
    if problems:
        raise invalid({"name": problems})


def _check_url(url: str | None) -> None:
    if not url:
        return
    problems = []
    if len(url) > 255:
        problems.append(TOO_LONG)
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        problems.append(BAD_SCHEME)
    if problems:
        raise invalid({"external_url": problems})


def _new_environment(ctx: Context, project: Project, name: str) -> Environment:
    double = ctx.double
    _check_name(name)
    if double.environment_named(project, name) is not None:
        raise invalid({"name": ["has already been taken"]})
    tier = ctx.choice("tier", TIERS) or next(
        (tier for pattern, tier in TIER_GUESSES if pattern.search(name)), "other"
    )
    now = double.now()
    row = Environment(
        id=double.next_id("environment"),
        project_id=project.id,
        name=name,
        slug=slugify(name),
        external_url=None,
        tier=tier,
        description=None,
        state="available",
        created_at=now,
        updated_at=now,
    )
    double.environment_rows[row.id] = row
    return row


def _environment(ctx: Context) -> Environment:
    row = ctx.double.environment_rows.get(ctx.int_path("environment_id", "Environment"))
    if row is None or row.project_id != ctx.project().id:
        raise not_found("Environment")
    return row


def list_environments(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        project = ctx.project()
        name, search = ctx.text("name"), ctx.text("search")
        if name is not None and search is not None:
            raise bad_request("name, search are mutually exclusive")
        if search is not None and len(search) < 3:
            raise bad_request("search must be at least 3 characters")
        rows = [e for e in double.environment_rows.values() if e.project_id == project.id]
        if name is not None:
            rows = [e for e in rows if e.name == name]
        if search is not None:
            rows = [e for e in rows if search in e.name]
        states = ctx.choice("states", ("available", "stopping", "stopped"))
        if states is not None:
            rows = [e for e in rows if e.state == states]
        return paginate(ctx, sorted(rows, key=lambda e: e.id), lambda e: entities.environment(double, e))


def get_environment(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.environment(ctx.double, _environment(ctx), with_last_deployment=True))


def create_environment(ctx: Context) -> Answer:
    name = ctx.required_text("name")
    with ctx.double.lock:
        external_url = ctx.text("external_url")
        _check_url(external_url)
        row = _new_environment(ctx, ctx.project(), name)
        row.external_url = external_url
        row.description = ctx.text("description")
        return Answer(entities.environment(ctx.double, row), status=201)


def update_environment(ctx: Context) -> Answer:
    with ctx.double.lock:
        row = _environment(ctx)
        # GITLAB.md C3: name is not an accepted parameter since 16.0, so it is ignored.
        if ctx.has("external_url"):
            _check_url(ctx.text("external_url"))
            row.external_url = ctx.text("external_url")
        row.tier = ctx.choice("tier", TIERS) or row.tier
        row.description = ctx.text("description", default=row.description)
        row.updated_at = ctx.double.now()
        return Answer(entities.environment(ctx.double, row))


def stop_environment(ctx: Context) -> Answer:
    with ctx.double.lock:
        row = _environment(ctx)
        row.state = "stopped"
        row.updated_at = ctx.double.now()
        return Answer(entities.environment(ctx.double, row))


def delete_environment(ctx: Context) -> Answer:
    with ctx.double.lock:
        row = _environment(ctx)
        if row.state != "stopped":
            raise ApiError(403, FORBIDDEN)
        del ctx.double.environment_rows[row.id]
        return Answer(None, status=204)


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
        environment = double.environment_named(project, name) or _new_environment(ctx, project, name)
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


def list_deployments(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        project = ctx.project()
        rows = [d for d in double.deployment_rows.values() if d.project_id == project.id]
        environment = ctx.text("environment")
        if environment is not None:
            rows = [d for d in rows if double.environment_rows[d.environment_id].name == environment]
        status = ctx.choice("status", LIST_STATUSES)
        if status is not None:
            rows = [d for d in rows if d.status == status]
        keys = {
            "id": lambda d: d.id,
            "iid": lambda d: d.iid,
            "created_at": lambda d: d.created_at,
            "updated_at": lambda d: d.updated_at,
            "finished_at": lambda d: d.finished_at or "",
            "ref": lambda d: d.ref,
        }
        rows = sort_rows(ctx, rows, keys=keys, default_order="id", default_sort="asc")
        return paginate(ctx, rows, lambda d: entities.deployment(double, d))


def get_deployment(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.deployment(ctx.double, _deployment(ctx)))


ENVS = "/projects/{id}/environments"
DEPLOYS = "/projects/{id}/deployments"
ROUTES: tuple[Route, ...] = (
    route("GET", ENVS, list_environments),
    route("POST", ENVS, create_environment),
    route("GET", ENVS + "/{environment_id}", get_environment),
    route("PUT", ENVS + "/{environment_id}", update_environment),
    route("DELETE", ENVS + "/{environment_id}", delete_environment),
    route("POST", ENVS + "/{environment_id}/stop", stop_environment),
    route("GET", DEPLOYS, list_deployments),
    route("POST", DEPLOYS, create_deployment),
    route("GET", DEPLOYS + "/{deployment_id}", get_deployment),
    route("PUT", DEPLOYS + "/{deployment_id}", update_deployment),
)
