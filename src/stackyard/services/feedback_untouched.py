"""A passing commit status for a commit that does not touch a stack (the stack's `report_untouched`).

"Pipelines must succeed" blocks a merge request that has no pipeline at all (GITLAB.md C1), so a
stack whose files a push leaves alone still says so. There is no run behind it, so it travels as a
queue task rather than an outbox row, and it yields to any run of the stack on the same commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from stackyard.core.ports import ForgeAuthError, ForgeError, ForgeRateLimited, ForgeRefused
from stackyard.core.reports import stack_url, status_name, status_ref, untouched_status
from stackyard.logs import get_logger
from stackyard.services.feedback import STATUS
from stackyard.services.feedback_sender import MAX_ATTEMPTS, backoff
from stackyard.services.integrations import forge_for
from stackyard.storage.tables import Feedback, Integration, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)


def send_untouched_status(platform: Platform, *, stack_id: int, commit_sha: str, ref: str, attempt: int = 1) -> str:
    """Returns what happened: "sent", "superseded", "gone", "failed" or "retry"."""
    with platform.sessions() as session:
        stack = session.get(Stack, stack_id)
        if stack is None or stack.project_id is None:
            return "gone"
        # A run reporting on this commit owns the status; a late "untouched" success must never
        # land after (and over) its real outcome.
        runs_report = session.scalar(select(exists().where(
            Feedback.kind == STATUS, Feedback.run_id == Run.id, Run.stack_id == stack_id, Run.commit_sha == commit_sha,
        )))
        if runs_report:
            return "superseded"
        integration = session.get_one(Integration, stack.integration_id)
        forge = forge_for(platform, integration, wait_on_rate_limit=False)
        update = untouched_status()
        name, project_id = status_name(stack.name, module=stack.kind == "module"), stack.project_id
        target_url = stack_url(platform.settings.public_url, stack.name)
    try:
        forge.set_commit_status(
            project_id, commit_sha, name=name, state=update.state,
            ref=status_ref(ref, from_fork=False, merge_request_iid=None),
            target_url=target_url, description=update.description,
        )
    except ForgeRefused as exc:
        _note_problem(platform, stack_id, exc.message)
        return "failed"
    except ForgeError as exc:
        if attempt >= MAX_ATTEMPTS:
            _note_problem(platform, stack_id, f"gave up after {attempt} attempts: {exc.message}")
            return "failed"
        wait = backoff(attempt)
        if isinstance(exc, ForgeRateLimited) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        if isinstance(exc, ForgeAuthError):
            _note_problem(platform, stack_id, exc.message, token_refused=True)
        platform.tasks.send_untouched_status.schedule(  # type: ignore[attr-defined]
            (stack_id, commit_sha, ref, attempt + 1), delay=wait
        )
        log.info("untouched status put off", stack=stack_id, attempt=attempt, wait=wait, error=exc.message)
        return "retry"
    return "sent"


def _note_problem(platform: Platform, stack_id: int, message: str, *, token_refused: bool = False) -> None:
    with platform.sessions.begin() as session:
        stack = session.get_one(Stack, stack_id)
        integration = session.get_one(Integration, stack.integration_id)
        integration.feedback_problem = f"stack {stack.name}: {message}"
        if token_refused:
            integration.token_failing_since = integration.token_failing_since or utcnow()

