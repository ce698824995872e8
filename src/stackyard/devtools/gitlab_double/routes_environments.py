"""Environment routes with GitLab's validations (C3); deployments live in routes_deployments."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlparse

from . import entities
from .api import Answer, Context, paginate
from .errors import FORBIDDEN, ApiError, bad_request, invalid, not_found
from .records import Environment, Project
from .routing import Route, route

TIERS = ("production", "staging", "testing", "development", "other")
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


def new_environment(ctx: Context, project: Project, name: str) -> Environment:
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
        row = new_environment(ctx, ctx.project(), name)
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


ENVS = "/projects/{id}/environments"
ROUTES: tuple[Route, ...] = (
    route("GET", ENVS, list_environments),
    route("POST", ENVS, create_environment),
    route("GET", ENVS + "/{environment_id}", get_environment),
    route("PUT", ENVS + "/{environment_id}", update_environment),
    route("DELETE", ENVS + "/{environment_id}", delete_environment),
    route("POST", ENVS + "/{environment_id}/stop", stop_environment),
)
