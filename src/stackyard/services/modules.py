"""Modules: creating, changing and describing them, and re-testing a tag by hand.

A module is a row of the stacks table with kind='module' (it shares the project hook, secrets and
run machinery of stacks); what is particular to it is its registry name and its `test` commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stackyard.core.errors import Conflict, Invalid
from stackyard.core.modules import check_provider, check_registry_name, registry_source, version_from_tag
from stackyard.core.ports import ForgeAuthError, ForgeError
from stackyard.core.runs import TERMINAL, RunState, RunType, Trigger
from stackyard.services import stacks
from stackyard.services.feedback import record_run_feedback
from stackyard.services.integrations import forge_for
from stackyard.services.run_changes import dispatch, unit_of_work
from stackyard.services.token_health import note_token_failure
from stackyard.storage.tables import Integration, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

KIND = "module"
VENDORS = ("opentofu", "terraform", "commands")
EDITABLE = ("project_root", "namespace", "provider", "vendor", "commands", "environment", "secrets", "install_webhook")


def check_module_fields(fields: dict[str, Any], *, current: Stack | None = None) -> None:
    """Registry names, the vendors that can test, and `commands.test` for the commands vendor.

    On a change, `current` supplies what the change leaves as it was.
    """
    if "name" in fields:
        check_registry_name("name", fields["name"])
    if "namespace" in fields:
        check_registry_name("namespace", fields["namespace"])
    if "provider" in fields:
        check_provider(fields["provider"])
    vendor = fields.get("vendor", current.vendor if current is not None else None)
    if vendor not in VENDORS:
        raise Invalid(f"a module's vendor must be one of {', '.join(VENDORS)}")
    commands = fields.get("commands", current.commands if current is not None else {}) or {}
    if not isinstance(commands, dict):
        raise Invalid("commands must be an object like {\"test\": [\"...\"]}")
    other = sorted(set(commands) - {"test"})
    if other:
        raise Invalid(f"a module only has commands.test (not {', '.join(other)})")
    if vendor == "commands" and not commands.get("test"):
        raise Invalid("a 'commands' module needs commands.test (a list of shell commands)")
    if vendor != "commands" and commands.get("test"):
        raise Invalid(f"commands.test is for the 'commands' vendor; {vendor} runs init, validate and its test files")


def create_module(platform: Platform, fields: dict[str, Any]) -> Stack:
    check_module_fields(fields)
    return stacks.create_stack(platform, fields, kind=KIND)


def update_module(platform: Platform, name: str, fields: dict[str, Any]) -> Stack:
    with platform.sessions() as session:
        check_module_fields(fields, current=stacks.get_stack(session, name, kind=KIND))
    return stacks.update_stack(platform, name, fields, kind=KIND, editable=EDITABLE)


def delete_module(platform: Platform, name: str, *, force: bool = False) -> None:
    """Its versions go with it (ON DELETE CASCADE): the registry stops serving them at once."""
    stacks.delete_stack(platform, name, kind=KIND, force=force)


def source_address(platform: Platform, row: Stack) -> str:
    return registry_source(
        platform.settings.public_url, namespace=row.namespace or "", name=row.name, provider=row.provider or ""
    )


def describe_module(platform: Platform, row: Stack, integration_name: str) -> dict[str, Any]:
    """SPEC's module fields plus `source`, the address to put in a `module` block. Secrets by name only."""
    return {
        "name": row.name,
        "integration": integration_name,
        "repository": row.repository,
        "project_id": row.project_id,
        "project_root": row.project_root,
        "namespace": row.namespace,
        "provider": row.provider,
        "source": source_address(platform, row),
        "vendor": row.vendor,
        "commands": row.commands,
        "environment": row.environment,
        "secrets": row.secret_names,
        "install_webhook": row.install_webhook,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def test_tag(platform: Platform, name: str, *, tag: str) -> int:
    """Tests a version tag again by hand (say after fixing a flaky test); publishes it if it passes
    and that version is not published yet. The tag's commit is asked of GitLab's Tags API."""
    if version_from_tag(tag) is None:
        raise Invalid(f"tag {tag!r} is not a semver version tag like v1.2.3")
    with platform.sessions() as session:
        module = stacks.get_stack(session, name, kind=KIND)
        integration = session.get(Integration, module.integration_id)
        assert integration is not None
        project_id = module.project_id
    if project_id is None:
        raise Conflict(f"module {name} has no GitLab project yet: check its integration and repository")
    try:
        sha = forge_for(platform, integration).tag_commit_sha(project_id, tag)
    except ForgeError as exc:
        if isinstance(exc, ForgeAuthError):
            note_token_failure(platform, integration.id)
        raise Invalid(f"GitLab could not find tag {tag}: {exc}") from exc
    with unit_of_work(platform) as (session, after):
        module = stacks.get_stack(session, name, kind=KIND)
        busy = session.scalar(
            select(Run.id).where(
                Run.stack_id == module.id, Run.ref == tag, Run.commit_sha == sha,
                Run.state.not_in([str(s) for s in TERMINAL]),
            )
        )
        if busy is not None:
            raise Conflict(f"run {busy} is already testing {tag}: cancel it or wait for it")
        run = Run(
            stack_id=module.id, type=str(RunType.TEST), state=str(RunState.QUEUED), trigger=str(Trigger.MANUAL),
            commit_sha=sha, ref=tag, ordered_at=utcnow(),
        )
        session.add(run)
        session.flush()
        after.feedback |= record_run_feedback(session, platform, run, module)
        dispatch(session, after, module.id)
        return run.id


def modules_query() -> Any:
    return select(Stack).where(Stack.kind == KIND)
