"""The run page: state, summary, plan, what GitLab was told, the log (followed live by static/run-log.js), actions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stackyard.core.runs import TERMINAL, RunState, RunType
from stackyard.storage.tables import Integration, Run, Stack
from stackyard.web.deps import PlatformDep
from stackyard.web.ui.queries import log_tail, parse_id, project_url, run_feedback
from stackyard.web.ui.templating import not_found, render
from stackyard.web.ui.viewer import SignedIn, Viewer

router = APIRouter()


def run_actions(run: Run) -> list[str]:
    """The buttons an admin gets, in the order the services would accept them."""
    state = RunState(run.state)
    actions = []
    if run.type == RunType.TRACKED and state is RunState.UNCONFIRMED:
        actions.append("confirm")
    if state is RunState.UNCONFIRMED:
        actions.append("discard")
    if state not in TERMINAL and not run.cancel_requested:
        actions.append("cancel")
    return actions


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, platform: PlatformDep, viewer: SignedIn, run_id: str) -> HTMLResponse:
    return run_response(request, platform, viewer, run_id)


def run_response(request: Request, platform: PlatformDep, viewer: Viewer, run_id: str, *,
                 error: str | None = None, status_code: int = 200) -> HTMLResponse:
    """Also used by the action forms to show the page again with what went wrong."""
    wanted = parse_id(run_id)
    with platform.sessions() as session:
        run = session.get(Run, wanted) if wanted is not None else None
        if run is None:
            return not_found(request, viewer, what="run", name=run_id)
        stack = session.get(Stack, run.stack_id)
        assert stack is not None
        integration = session.get(Integration, stack.integration_id)
        return render(
            request, "run.html", viewer=viewer, status_code=status_code, error=error,
            run=run, stack=stack, project_url=project_url(integration, stack),
            log=log_tail(session, run.id), done=RunState(run.state) in TERMINAL,
            feedback=run_feedback(session, run.id),
            actions=run_actions(run) if viewer.is_admin else [],
        )
