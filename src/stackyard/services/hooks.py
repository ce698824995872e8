"""Project hooks Stackyard manages: exactly one per GitLab project, with its own secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from stackyard.core.ports import ForgeError
from stackyard.services.integrations import forge_for, get_integration, webhook_url
from stackyard.storage.tables import Integration, ManagedHook, Stack

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


@dataclass(frozen=True)
class HookOutcome:
    project_id: int
    state: str  # "created" | "repaired" | "unchanged" | "failed"
    error: str | None = None


def install_hook(platform: Platform, *, integration_id: int, project_id: int, project_path: str = "") -> HookOutcome:
    """Gives the project its own secret, so a leaked project secret opens nothing else."""
    with platform.sessions.begin() as session:
        hook = session.scalar(
            select(ManagedHook).where(
                ManagedHook.integration_id == integration_id, ManagedHook.project_id == project_id
            )
        )
        if hook is None:
            hook = ManagedHook(
                integration_id=integration_id,
                project_id=project_id,
                project_path=project_path,
                secret_encrypted=platform.box.encrypt(secrets.token_urlsafe(32)),
            )
            session.add(hook)
        integration = session.get(Integration, integration_id)
        assert integration is not None
        url = webhook_url(platform, integration.name)
        secret = platform.box.decrypt(hook.secret_encrypted)
        forge = forge_for(platform, integration)
    try:
        result = forge.ensure_hook(project_id, url=url, token=secret)
    except ForgeError as exc:
        outcome = HookOutcome(project_id=project_id, state="failed", error=str(exc))
    else:
        outcome = HookOutcome(project_id=project_id, state=result.action)
    with platform.sessions.begin() as session:
        hook = session.scalar(
            select(ManagedHook).where(
                ManagedHook.integration_id == integration_id, ManagedHook.project_id == project_id
            )
        )
        if hook is not None:
            hook.state = "installed" if outcome.state != "failed" else "failed"
            hook.last_error = outcome.error
            if outcome.state != "failed":
                hook.hook_id = result.hook_id
    return outcome


def repair_hooks(platform: Platform, integration_name: str) -> list[HookOutcome]:
    """Re-checks every project that has a stack or module using webhooks on this integration."""
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
    return [
        install_hook(platform, integration_id=integration.id, project_id=pid, project_path=path)
        for pid, path in projects
    ]


def accepted_secrets(platform: Platform, integration: Integration) -> list[str]:
    with platform.sessions() as session:
        hooks = session.scalars(select(ManagedHook).where(ManagedHook.integration_id == integration.id))
        return [platform.box.decrypt(integration.webhook_secret_encrypted)] + [
            platform.box.decrypt(h.secret_encrypted) for h in hooks
        ]
