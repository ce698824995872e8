"""Integrations: GitLab servers Stackyard talks to, their tokens, webhook secrets and hooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.errors import Conflict, Invalid, NotFound
from stackyard.core.ports import Forge, ForgeError
from stackyard.storage.tables import Integration, ManagedHook, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

NAME_RULE = "letters, digits, '-', '_' and '.', starting with a letter or digit, at most 100 characters"


def valid_name(name: str, *, limit: int = 100) -> bool:
    return (
        0 < len(name) <= limit
        and name[0].isascii()
        and name[0].isalnum()
        and all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)
    )


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def webhook_url(platform: Platform, name: str) -> str:
    return f"{platform.settings.public_url}/webhooks/gitlab/{name}"


def forge_for(platform: Platform, integration: Integration, *, wait_on_rate_limit: bool = True) -> Forge:
    """wait_on_rate_limit=False: a 429 is raised at once with its Retry-After, for callers that
    reschedule instead of sleeping in a worker thread (the feedback outbox)."""
    from stackyard.gitlab.forge import GitLabForge

    return GitLabForge(
        integration.api_url,
        platform.box.decrypt(integration.token_encrypted),
        timeout=platform.settings.gitlab_timeout,
        wait_on_rate_limit=wait_on_rate_limit,
    )


def get_integration(session: Session, name: str) -> Integration:
    row = session.scalar(select(Integration).where(Integration.name == name))
    if row is None:
        raise NotFound(f"no integration named {name!r}")
    return row


def normalise_api_url(api_url: str) -> str:
    """Accept the instance URL or its /api/v4 form; python-gitlab wants the instance URL."""
    parsed = urlparse(api_url.strip())
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise Invalid("api_url must be an http(s) URL such as https://gitlab.com")
    url = api_url.strip().rstrip("/")
    return url.removesuffix("/api/v4")


def create_integration(platform: Platform, *, name: str, kind: str, api_url: str, token: str) -> Integration:
    if kind != "gitlab":
        raise Invalid("kind must be 'gitlab'")
    if not valid_name(name):
        raise Invalid(f"integration name must be {NAME_RULE}")
    if not token.strip():
        raise Invalid("token must not be empty")
    url = normalise_api_url(api_url)
    with platform.sessions.begin() as session:
        if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
            raise Conflict(f"an integration named {name!r} already exists")
        row = Integration(
            name=name,
            kind=kind,
            api_url=url,
            token_encrypted=platform.box.encrypt(token.strip()),
            webhook_secret_encrypted=platform.box.encrypt(new_webhook_secret()),
        )
        session.add(row)
    return row


def delete_integration(platform: Platform, name: str) -> None:
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        if session.scalar(select(Stack.id).where(Stack.integration_id == row.id).limit(1)) is not None:
            raise Conflict(f"integration {name!r} still has stacks or modules; delete them first")
        session.delete(row)


def rotate_secret(platform: Platform, name: str) -> Integration:
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        row.webhook_secret_encrypted = platform.box.encrypt(new_webhook_secret())
    return row


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    user: str | None
    scopes: list[str]
    expires_at: str | None
    problems: list[str]


def check_integration(platform: Platform, name: str, *, today: date | None = None) -> CheckResult:
    """Asks GitLab who the token is; the answer is also kept on the integration for the UI."""
    with platform.sessions() as session:
        row = get_integration(session, name)
        forge = forge_for(platform, row)
    try:
        result = forge.check_token()
        check = CheckResult(
            ok=result.ok,
            user=result.user,
            scopes=list(result.scopes),
            expires_at=result.expires_at,
            problems=list(result.problems),
        )
    except ForgeError as exc:
        check = CheckResult(ok=False, user=None, scopes=[], expires_at=None,
                            problems=[f"could not reach GitLab at {row.api_url}: {exc}"])
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        row.token_user = check.user
        row.token_scopes = check.scopes
        row.token_expires_at = check.expires_at
        row.token_problems = check.problems
        row.checked_at = utcnow()
    return check


def describe_integration(platform: Platform, row: Integration, *, admin: bool,
                         hooks: list[ManagedHook] | None = None) -> dict[str, Any]:
    """The API's view: the token never appears; the webhook secret only for admins (SPEC.md)."""
    answer: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "api_url": row.api_url,
        "webhook_url": webhook_url(platform, row.name),
        "created_at": row.created_at.isoformat(),
        "token_user": row.token_user,
        "token_scopes": row.token_scopes,
        "token_expires_at": row.token_expires_at,
        "problems": list(row.token_problems or []) + ([row.feedback_problem] if row.feedback_problem else []),
        "checked_at": row.checked_at.isoformat() if row.checked_at else None,
    }
    if admin:
        answer["webhook_secret"] = platform.box.decrypt(row.webhook_secret_encrypted)
    if hooks is not None:
        answer["hooks"] = [
            {"project_id": h.project_id, "project": h.project_path, "hook_id": h.hook_id,
             "state": h.state, "error": h.last_error}
            for h in hooks
        ]
    return answer
