"""The overview, stack and module pages: what exists and what ran."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from stackyard.core.errors import NotFound
from stackyard.services.module_versions import versions_query
from stackyard.services.modules import source_address
from stackyard.services.stacks import get_stack
from stackyard.storage.tables import Integration, ModuleVersion, Stack
from stackyard.web.deps import PlatformDep
from stackyard.web.ui.queries import integration_names, latest_runs, project_url, runs_page
from stackyard.web.ui.templating import not_found, render
from stackyard.web.ui.viewer import SignedIn, Viewer

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, platform: PlatformDep, viewer: SignedIn) -> HTMLResponse:
    with platform.sessions() as session:
        rows = list(session.scalars(select(Stack).order_by(Stack.name)))
        return render(
            request, "home.html", viewer=viewer,
            stacks=[r for r in rows if r.kind == "stack"],
            modules=[r for r in rows if r.kind == "module"],
            latest=latest_runs(session),
            integrations=integration_names(session),
            recent=runs_page(session, limit=25),
        )


@router.get("/stacks/{name}", response_class=HTMLResponse)
def stack_page(request: Request, platform: PlatformDep, viewer: SignedIn, name: str,
               cursor: str | None = None) -> HTMLResponse:
    return stack_response(request, platform, viewer, name, cursor=cursor)


def stack_response(request: Request, platform: PlatformDep, viewer: Viewer, name: str, *,
                   cursor: str | None = None, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    """Also used by the trigger form to show the page again with what went wrong."""
    with platform.sessions() as session:
        try:
            stack = get_stack(session, name)
        except NotFound:
            return not_found(request, viewer, what="stack", name=name)
        return render(request, "stack.html", viewer=viewer, status_code=status_code, error=error,
                      **_stack_context(session, stack, cursor))


@router.get("/modules/{name}", response_class=HTMLResponse)
def module_page(request: Request, platform: PlatformDep, viewer: SignedIn, name: str,
                cursor: str | None = None) -> HTMLResponse:
    return module_response(request, platform, viewer, name, cursor=cursor)


# Versions shown on the module page; the API pages through all of them.
PAGE_VERSIONS = 100


def module_response(request: Request, platform: PlatformDep, viewer: Viewer, name: str, *,
                    cursor: str | None = None, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    """Also used by the module forms (test a tag, yank) to show the page again with what went wrong."""
    with platform.sessions() as session:
        try:
            module = get_stack(session, name, kind="module")
        except NotFound:
            return not_found(request, viewer, what="module", name=name)
        versions = list(session.scalars(
            versions_query(module.id).order_by(ModuleVersion.id.desc()).limit(PAGE_VERSIONS)
        ))
        return render(request, "module.html", viewer=viewer, status_code=status_code, error=error,
                      **_stack_context(session, module, cursor), versions=versions,
                      source=source_address(platform, module))


def _stack_context(session: Session, stack: Stack, cursor: str | None) -> dict[str, Any]:
    integration = session.get(Integration, stack.integration_id)
    return {
        "stack": stack,
        "integration": integration,
        "project_url": project_url(integration, stack),
        "runs": runs_page(session, stack_id=stack.id, limit=50, cursor=cursor),
    }
