"""Project hooks Stackyard manages: exactly one per GitLab project, with its own secret and signing token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.ports import ForgeAuthError, ForgeError, HookResult
from stackyard.gitlab.signatures import new_signing_token
from stackyard.services.integrations import forge_for, get_integration, webhook_url
from stackyard.services.token_health import note_token_failure, note_token_ok, watching_token
from stackyard.storage.tables import Integration, ManagedHook, Stack

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


@dataclass(frozen=True)
class HookOutcome:
    project_id: int
    project: str
    state: str  # "created" | "repaired" | "unchanged" | "removed" | "failed"
    hook_id: int | None = None
    removed_duplicates: int = 0
    error: str | None = None


def _managed(session: Session, integration_id: int, project_id: int) -> ManagedHook | None:
    return session.scalar(
        select(ManagedHook).where(ManagedHook.integration_id == integration_id, ManagedHook.project_id == project_id)
    )


def install_hook(platform: Platform, *, integration_id: int, project_id: int, project_path: str = "") -> HookOutcome:
    """Gives the project its own secret and signing token, so a leaked one opens nothing else.

    Both are stored before GitLab hears of them: the first delivery may arrive before GitLab answers.
    GitLab before 19.0 ignores `signing_token` silently (GITLAB.md A4); its deliveries are then unsigned.
    """
    with platform.sessions.begin() as session:
        hook = _managed(session, integration_id, project_id)
        if hook is None:
            hook = ManagedHook(
                integration_id=integration_id,
                project_id=project_id,
                project_path=project_path,
                secret_encrypted=platform.box.encrypt(secrets.token_urlsafe(32)),
            )
            session.add(hook)
        if hook.signing_secret_encrypted is None:
            # Hooks installed before Stackyard signed get a signing token at their next repair.
            hook.signing_secret_encrypted = platform.box.encrypt(new_signing_token())
        if project_path and not hook.project_path:
            hook.project_path = project_path
        integration = session.get(Integration, integration_id)
        assert integration is not None
        url = webhook_url(platform, integration.name)
        secret = platform.box.decrypt(hook.secret_encrypted)
        signing_token = platform.box.decrypt(hook.signing_secret_encrypted)
        path = hook.project_path
        known_id = hook.hook_id
        forge = forge_for(platform, integration)
    result: HookResult | None = None
    try:
        result = forge.ensure_hook(project_id, url=url, token=secret, signing_token=signing_token, known_id=known_id)
    except ForgeError as exc:
        if isinstance(exc, ForgeAuthError):
            note_token_failure(platform, integration_id)
        outcome = HookOutcome(project_id=project_id, project=path, state="failed", error=exc.message)
    else:
        note_token_ok(platform, integration_id)
        outcome = HookOutcome(
            project_id=project_id, project=path, state=result.action, hook_id=result.hook_id,
            removed_duplicates=result.removed_duplicates,
        )
    with platform.sessions.begin() as session:
        hook = _managed(session, integration_id, project_id)
        if hook is not None:
            hook.state = "failed" if result is None else "installed"
            hook.last_error = outcome.error
            if result is not None:
                hook.hook_id = result.hook_id
    return outcome


def _hook_wanted(session: Session, integration_id: int, project_id: int) -> bool:
    """Some stack or module on the project still asks for the hook."""
    return session.scalar(
        select(Stack.id)
        .where(Stack.integration_id == integration_id, Stack.project_id == project_id, Stack.install_webhook)
        .limit(1)
    ) is not None


def release_hook(platform: Platform, *, integration_id: int, project_id: int) -> HookOutcome | None:
    """Removes Stackyard's hook from a project once no stack or module there wants it (None: still wanted).

    Until GitLab has confirmed the removal the managed hook stays, with its secret: deliveries the hook
    still sends are acknowledged, and `integration hooks --repair` tries the removal again.
    """
    with platform.sessions() as session:
        hook = _managed(session, integration_id, project_id)
        if hook is None or _hook_wanted(session, integration_id, project_id):
            return None
        integration = session.get(Integration, integration_id)
        assert integration is not None
        url = webhook_url(platform, integration.name)
        known_id, path = hook.hook_id, hook.project_path
        forge = forge_for(platform, integration)
    try:
        with watching_token(platform, integration_id):
            forge.remove_hook(project_id, url, known_id=known_id)
    except ForgeError as exc:
        error = f"could not remove the hook, no stack or module uses it any more: {exc.message}"
        with platform.sessions.begin() as session:
            hook = _managed(session, integration_id, project_id)
            if hook is not None:
                hook.state, hook.last_error = "failed", error
        return HookOutcome(project_id=project_id, project=path, state="failed", hook_id=known_id, error=error)
    with platform.sessions.begin() as session:
        hook = _managed(session, integration_id, project_id)
        # A stack created on the project meanwhile installed the hook again: that row is its own.
        if hook is not None and not _hook_wanted(session, integration_id, project_id):
            session.delete(hook)
    return HookOutcome(project_id=project_id, project=path, state="removed", hook_id=known_id)


def repair_hooks(platform: Platform, integration_name: str) -> list[HookOutcome]:
    """Re-checks every project that has a stack or module using webhooks on this integration, and removes
    the hooks of projects that have none any more."""
    with platform.sessions() as session:
        integration = get_integration(session, integration_name)
        projects = sorted(
            {
                (row.project_id, row.repository)
                for row in session.scalars(
                    select(Stack).where(Stack.integration_id == integration.id, Stack.install_webhook)
                )
                if row.project_id is not None
            }
        )
        wanted = {pid for pid, _ in projects}
        unwanted = sorted(
            hook.project_id
            for hook in session.scalars(select(ManagedHook).where(ManagedHook.integration_id == integration.id))
            if hook.project_id not in wanted
        )
    outcomes = [
        install_hook(platform, integration_id=integration.id, project_id=pid, project_path=path)
        for pid, path in projects
    ]
    for project_id in unwanted:
        released = release_hook(platform, integration_id=integration.id, project_id=project_id)
        if released is not None:
            outcomes.append(released)
    return outcomes


def webhook_credentials(platform: Platform, session: Session, integration: Integration) -> list[tuple[str, str | None]]:
    """Every (X-Gitlab-Token, signing token or None) a delivery for this integration may carry.

    The integration's own pair is for hooks people install by hand; each managed hook has its own.
    """
    def plain(encrypted: bytes | None) -> str | None:
        return platform.box.decrypt(encrypted) if encrypted is not None else None

    pairs: list[tuple[str, str | None]] = [
        (platform.box.decrypt(integration.webhook_secret_encrypted), plain(integration.signing_secret_encrypted))
    ]
    for hook in session.scalars(select(ManagedHook).where(ManagedHook.integration_id == integration.id)):
        pairs.append((platform.box.decrypt(hook.secret_encrypted), plain(hook.signing_secret_encrypted)))
    return pairs
