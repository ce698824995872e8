"""Integrations: GitLab servers Stackyard talks to, their tokens, webhook secrets and hooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.errors import Conflict, Invalid, NotFound
from stackyard.core.ports import Forge, ForgeError
from stackyard.gitlab.signatures import decode_signing_token, new_signing_token
from stackyard.gitlab.token_check import WARN_DAYS_BEFORE_EXPIRY, expiry_problem
from stackyard.services.token_health import note_token_ok
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


def forge_for(
    platform: Platform, integration: Integration, *, wait_on_rate_limit: bool = True, today: date | None = None
) -> Forge:
    """wait_on_rate_limit=False: a 429 is raised at once with its Retry-After, for callers that
    reschedule instead of sleeping in a worker thread (the feedback outbox)."""
    from stackyard.gitlab.forge import GitLabForge

    return GitLabForge(
        integration.api_url,
        platform.box.decrypt(integration.token_encrypted),
        timeout=platform.settings.gitlab_timeout,
        wait_on_rate_limit=wait_on_rate_limit,
        today=(lambda: today) if today is not None else None,
    )


def utc_today() -> date:
    return datetime.now(UTC).date()


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


def checked_signing_token(signing_token: str) -> str:
    """A `whsec_…` token as GitLab shows it (GITLAB.md A4), refused with the reason when it is not one."""
    try:
        decode_signing_token(signing_token)
    except ValueError as exc:
        raise Invalid(f"signing_token: {exc}") from exc
    return signing_token.strip()


def create_integration(
    platform: Platform, *, name: str, kind: str, api_url: str, token: str, signing_token: str | None = None
) -> Integration:
    if kind != "gitlab":
        raise Invalid("kind must be 'gitlab'")
    if not valid_name(name):
        raise Invalid(f"integration name must be {NAME_RULE}")
    if not token.strip():
        raise Invalid("token must not be empty")
    url = normalise_api_url(api_url)
    signing = checked_signing_token(signing_token) if signing_token else None
    with platform.sessions.begin() as session:
        if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
            raise Conflict(f"an integration named {name!r} already exists")
        row = Integration(
            name=name,
            kind=kind,
            api_url=url,
            token_encrypted=platform.box.encrypt(token.strip()),
            webhook_secret_encrypted=platform.box.encrypt(new_webhook_secret()),
            signing_secret_encrypted=platform.box.encrypt(signing) if signing else None,
        )
        session.add(row)
    return row


def update_integration(
    platform: Platform,
    name: str,
    *,
    token: str | None = None,
    signing_token: str | None = None,
    remove_signing_token: bool = False,
) -> Integration:
    """Replace the GitLab token and/or set or remove the signing token used by hooks installed by hand.

    A new token makes the last check's findings and any 401 mark stale: they described the old one.
    """
    if token is not None and not token.strip():
        raise Invalid("token must not be empty")
    if signing_token is not None and remove_signing_token:
        raise Invalid("give a signing token or remove it, not both")
    signing = checked_signing_token(signing_token) if signing_token is not None else None
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        if token is not None:
            row.token_encrypted = platform.box.encrypt(token.strip())
            row.token_user = None
            row.token_scopes = []
            row.token_expires_at = None
            row.token_problems = []
            row.checked_at = None
            row.token_failing_since = None
        if signing is not None:
            row.signing_secret_encrypted = platform.box.encrypt(signing)
        elif remove_signing_token:
            row.signing_secret_encrypted = None
    return row


def rotate_signing_token(platform: Platform, name: str) -> Integration:
    """A fresh `whsec_` token for hooks installed by hand; paste it into each hook's settings in GitLab."""
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        row.signing_secret_encrypted = platform.box.encrypt(new_signing_token())
    return row


def delete_integration(platform: Platform, name: str, *, force: bool = False) -> None:
    """Refused while hooks Stackyard installed may still be in GitLab (their removal failed when their
    last stack went): unlinked, nothing would ever remove them. `force` leaves them, for a GitLab that
    is gone for good."""
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        if session.scalar(select(Stack.id).where(Stack.integration_id == row.id).limit(1)) is not None:
            raise Conflict(f"integration {name!r} still has stacks or modules; delete them first")
        left = sorted(
            hook.project_path or str(hook.project_id)
            for hook in session.scalars(select(ManagedHook).where(ManagedHook.integration_id == row.id))
        )
        if left and not force:
            raise Conflict(
                f"GitLab may still have hooks Stackyard installed for {name!r} on {', '.join(left)}: remove them "
                f"with `stackyard integration hooks {name} --repair`, or delete with --force (?force=true) to "
                "leave them"
            )
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
    """Asks GitLab who the token is; the answer is also kept on the integration for the UI.

    The expiry warning is not stored with the other findings: it is recomputed whenever the
    integration is shown, so a token checked 40 days before it expires is flagged 30 days before.
    """
    today = today or utc_today()
    with platform.sessions() as session:
        row = get_integration(session, name)
        forge = forge_for(platform, row, today=today)
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
    expiry, _expired = expiry_problem(check.expires_at, today)
    with platform.sessions.begin() as session:
        row = get_integration(session, name)
        row.token_user = check.user
        row.token_scopes = check.scopes
        row.token_expires_at = check.expires_at
        row.token_problems = [p for p in check.problems if p != expiry]
        row.checked_at = utcnow()
        integration_id = row.id
    if check.user is not None:
        # GitLab said who the token is: it authenticates again, whatever failed before.
        note_token_ok(platform, integration_id)
    return check


def token_failing_problem(row: Integration) -> str | None:
    if row.token_failing_since is None:
        return None
    since = row.token_failing_since.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"GitLab has refused this integration's token (401 Unauthorized) since {since}: it was revoked or "
        f"has expired, so Stackyard cannot report runs to GitLab or repair hooks. Create a new access token with the "
        f"api scope, then `stackyard integration update {row.name} --token -` and "
        f"`stackyard integration check {row.name}`."
    )


def token_problems(row: Integration, *, today: date) -> list[str]:
    """What is wrong with the token now: the last check's findings, a live expiry warning, a 401 mark."""
    problems = [str(p) for p in row.token_problems or []]
    failing = token_failing_problem(row)
    if failing:
        problems.insert(0, failing)
    expiry, expired = expiry_problem(row.token_expires_at, today)
    if expiry:
        when = "now" if expired else "before then"
        problems.append(
            f"{expiry}: create a new token with the api scope {when}, then "
            f"`stackyard integration update {row.name} --token -`"
        )
    return problems


def days_until(expires_at: str | None, today: date) -> int | None:
    if not expires_at:
        return None
    try:
        return (date.fromisoformat(expires_at[:10]) - today).days
    except ValueError:
        return None


def describe_integration(platform: Platform, row: Integration, *, admin: bool,
                         hooks: list[ManagedHook] | None = None, today: date | None = None) -> dict[str, Any]:
    """The API's view: the token never appears; the webhook secret and signing token only for admins (SPEC.md).

    Signing tokens of managed hooks are never shown: Stackyard gave them to GitLab itself.
    """
    today = today or utc_today()
    expires_in = days_until(row.token_expires_at, today)
    answer: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "api_url": row.api_url,
        "webhook_url": webhook_url(platform, row.name),
        "created_at": row.created_at.isoformat(),
        "token_user": row.token_user,
        "token_scopes": row.token_scopes,
        "token_expires_at": row.token_expires_at,
        "token_expires_in_days": expires_in,
        "token_expiring": expires_in is not None and expires_in <= WARN_DAYS_BEFORE_EXPIRY,
        "token_failing_since": row.token_failing_since.isoformat() if row.token_failing_since else None,
        "signing_token_set": row.signing_secret_encrypted is not None,
        "problems": token_problems(row, today=today) + ([row.feedback_problem] if row.feedback_problem else []),
        "checked_at": row.checked_at.isoformat() if row.checked_at else None,
    }
    if admin:
        answer["webhook_secret"] = platform.box.decrypt(row.webhook_secret_encrypted)
        answer["signing_token"] = (
            platform.box.decrypt(row.signing_secret_encrypted) if row.signing_secret_encrypted else None
        )
    if hooks is not None:
        answer["hooks"] = [
            {"project_id": h.project_id, "project": h.project_path, "hook_id": h.hook_id,
             "state": h.state, "error": h.last_error, "signed": h.signing_secret_encrypted is not None}
            for h in hooks
        ]
    return answer
