"""Stacks (and modules): creating, changing and describing them."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stackyard.core.errors import Conflict, Invalid, NotFound
from stackyard.core.ports import ForgeError
from stackyard.core.runs import TERMINAL
from stackyard.core.stacks import StackSpec, normalise_root
from stackyard.services.feedback import OPEN_STATES
from stackyard.services.hooks import install_hook, release_hook
from stackyard.services.integrations import NAME_RULE, forge_for, get_integration, valid_name
from stackyard.storage.tables import Feedback, Integration, Run, Stack

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

VENDORS = ("opentofu", "terraform", "ansible", "commands")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_ENV = frozenset({"PATH", "HOME", "LANG"})
EDITABLE = (
    "branch", "project_root", "watched_paths", "vendor", "commands", "autodeploy", "allow_forks",
    "report_untouched", "environment", "secrets", "install_webhook", "time_limit",
)


def check_env_names(names: list[str], what: str) -> None:
    for name in names:
        if not _ENV_NAME.match(name):
            raise Invalid(f"{what} {name!r} is not a valid variable name (letters, digits, _)")
        if name in _RESERVED_ENV or name.startswith("STACKYARD_"):
            raise Invalid(f"{what} {name!r} is reserved: PATH, HOME, LANG and STACKYARD_* are set by Stackyard")


def check_fields(fields: dict[str, Any], *, kind: str = "stack") -> None:
    if "vendor" in fields and fields["vendor"] not in VENDORS:
        raise Invalid(f"vendor must be one of {', '.join(VENDORS)}")
    if "project_root" in fields:
        root = normalise_root(fields["project_root"] or "")
        if root.startswith("..") or "/../" in f"/{root}/":
            raise Invalid("project_root must stay inside the repository")
    if "branch" in fields and not str(fields["branch"]).strip():
        raise Invalid("branch must not be empty")
    commands = fields.get("commands") or {}
    for phase, lines in commands.items():
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise Invalid(f"commands.{phase} must be a list of strings")
    check_env_names(list((fields.get("environment") or {}).keys()), "environment variable")
    check_env_names(list((fields.get("secrets") or {}).keys()), "secret variable")
    if kind == "stack" and fields.get("vendor") == "commands" and not commands.get("plan"):
        raise Invalid("a 'commands' stack needs commands.plan (a list of shell commands)")


def get_stack(session: Session, name: str, *, kind: str = "stack") -> Stack:
    row = session.scalar(select(Stack).where(Stack.name == name, Stack.kind == kind))
    if row is None:
        raise NotFound(f"no {kind} named {name!r}")
    return row


def resolve_project(platform: Platform, integration: Integration, repository: str) -> tuple[int, str]:
    """Routing needs GitLab's numeric project id; a path is resolved once, when the stack is saved."""
    try:
        info = forge_for(platform, integration).project(int(repository) if repository.isdigit() else repository)
    except ForgeError as exc:
        raise Invalid(f"GitLab project {repository!r} on integration {integration.name!r}: {exc}") from exc
    return info.id, info.path


def create_stack(platform: Platform, fields: dict[str, Any], *, kind: str = "stack") -> Stack:
    name = fields["name"]
    if not valid_name(name, limit=100):
        raise Invalid(f"{kind} name must be {NAME_RULE}")
    check_fields(fields, kind=kind)
    with platform.sessions() as session:
        integration = get_integration(session, fields["integration"])
        if session.scalar(select(Stack.id).where(Stack.name == name)) is not None:
            raise Conflict(f"a stack or module named {name!r} already exists")
    repository = str(fields["repository"]).strip().strip("/")
    if not repository:
        raise Invalid("repository must be a GitLab project path like group/project or a numeric id")
    project_id, project_path = resolve_project(platform, integration, repository)
    secrets_map: dict[str, str] = fields.get("secrets") or {}
    row = Stack(
        name=name,
        kind=kind,
        integration_id=integration.id,
        repository=project_path,
        project_id=project_id,
        branch=fields.get("branch") or "main",
        project_root=normalise_root(fields.get("project_root") or ""),
        watched_paths=list(fields.get("watched_paths") or []),
        vendor=fields.get("vendor") or "opentofu",
        commands=dict(fields.get("commands") or {}),
        autodeploy=bool(fields.get("autodeploy", False)),
        allow_forks=bool(fields.get("allow_forks", False)),
        report_untouched=bool(fields.get("report_untouched", False)),
        environment={str(k): str(v) for k, v in (fields.get("environment") or {}).items()},
        secrets_encrypted=platform.box.encrypt(json.dumps(secrets_map)) if secrets_map else None,
        secret_names=sorted(secrets_map),
        install_webhook=bool(fields.get("install_webhook", True)),
        time_limit=fields.get("time_limit"),
        namespace=fields.get("namespace"),
        provider=fields.get("provider"),
    )
    with platform.sessions.begin() as session:
        if session.scalar(select(Stack.id).where(Stack.name == name)) is not None:
            raise Conflict(f"a stack or module named {name!r} already exists")
        session.add(row)
    if row.install_webhook:
        install_hook(platform, integration_id=integration.id, project_id=project_id, project_path=project_path)
    return row


def update_stack(
    platform: Platform, name: str, fields: dict[str, Any], *, kind: str = "stack",
    editable: tuple[str, ...] = EDITABLE,
) -> Stack:
    unknown = set(fields) - set(editable)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))} (editable: {', '.join(editable)})")
    check_fields(fields, kind=kind)
    with platform.sessions.begin() as session:
        row = get_stack(session, name, kind=kind)
        for key, value in fields.items():
            if key == "secrets":
                # Secrets are write-only: a PATCH replaces the named ones; null removes one.
                current = stack_secrets(platform, row)
                for secret_name, secret_value in (value or {}).items():
                    if secret_value is None:
                        current.pop(secret_name, None)
                    else:
                        current[secret_name] = str(secret_value)
                row.secrets_encrypted = platform.box.encrypt(json.dumps(current)) if current else None
                row.secret_names = sorted(current)
            elif key == "project_root":
                row.project_root = normalise_root(value or "")
            else:
                setattr(row, key, value)
    if "install_webhook" in fields and row.project_id is not None:
        if row.install_webhook:
            install_hook(platform, integration_id=row.integration_id, project_id=row.project_id,
                         project_path=row.repository)
        else:
            release_hook(platform, integration_id=row.integration_id, project_id=row.project_id)
    return row


def delete_stack(platform: Platform, name: str, *, kind: str = "stack", force: bool = False) -> None:
    """Refused while a run has not ended or GitLab has not been told how runs ended (`force` drops the
    untold updates): the runs and their updates go with the stack, and a status GitLab never hears
    the end of stays "running" on the commit and blocks its merge request.

    The project's hook goes too when nothing else there uses it: a hook left behind would keep
    GitLab delivering events that start nothing, with a secret that still opens the endpoint.
    """
    with platform.sessions.begin() as session:
        row = get_stack(session, name, kind=kind)
        session.refresh(row, with_for_update=True)  # no run starts while we look
        live = session.execute(
            select(Run.id, Run.state)
            .where(Run.stack_id == row.id, Run.state.not_in([str(state) for state in TERMINAL]))
            .order_by(Run.id)
        ).all()
        if live:
            listed = ", ".join(f"run {run_id} ({state})" for run_id, state in live)
            raise Conflict(
                f"{kind} {name!r} has runs that have not ended: {listed}. Cancel or discard them first "
                f"(`stackyard run cancel {live[0].id}`), so that GitLab is told how they ended."
            )
        untold = session.scalar(
            select(func.count()).select_from(Feedback)
            .where(Feedback.stack_id == row.id, Feedback.state.in_(OPEN_STATES))
        )
        if untold and not force:
            raise Conflict(
                f"{untold} update(s) of {kind} {name!r} are still on their way to GitLab (commit statuses, "
                f"comments, deployments; `stackyard {kind} feedback {name}` lists them). Delete once they "
                "are sent, or with --force (?force=true) to drop them."
            )
        integration_id, project_id = row.integration_id, row.project_id
        session.delete(row)
    if project_id is not None:
        release_hook(platform, integration_id=integration_id, project_id=project_id)


def stack_secrets(platform: Platform, row: Stack) -> dict[str, str]:
    if not row.secrets_encrypted:
        return {}
    loaded: dict[str, str] = json.loads(platform.box.decrypt(row.secrets_encrypted))
    return loaded


def spec_of(row: Stack, integration_name: str) -> StackSpec:
    return StackSpec(
        name=row.name,
        integration=integration_name,
        project_id=row.project_id or 0,
        branch=row.branch,
        project_root=row.project_root,
        watched_paths=tuple(row.watched_paths or ()),
        autodeploy=row.autodeploy,
        allow_forks=row.allow_forks,
        vendor=row.vendor,
        kind=row.kind,
    )


def describe_stack(row: Stack, integration_name: str) -> dict[str, Any]:
    """Secret values never leave the server: only their names (SPEC.md, POST /api/v1/stacks)."""
    return {
        "name": row.name,
        "integration": integration_name,
        "repository": row.repository,
        "project_id": row.project_id,
        "branch": row.branch,
        "project_root": row.project_root,
        "watched_paths": row.watched_paths,
        "vendor": row.vendor,
        "commands": row.commands,
        "autodeploy": row.autodeploy,
        "allow_forks": row.allow_forks,
        "report_untouched": row.report_untouched,
        "environment": row.environment,
        "secrets": row.secret_names,
        "install_webhook": row.install_webhook,
        "time_limit": row.time_limit,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
