"""What admins do from the pages: confirm, discard or cancel a run, trigger one on a stack.

Each form post is checked in the same order: signed in, CSRF token and `Origin`, admin role;
then one service call does the work. Success answers 303 to the run page (so a reload never
posts twice); a refusal from the service shows the page again with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stackyard.bootstrap import Platform
from stackyard.core.errors import Conflict, Invalid, NotFound
from stackyard.services import module_versions, modules, runs
from stackyard.web.deps import PlatformDep
from stackyard.web.ui.pages import module_response, stack_response
from stackyard.web.ui.queries import parse_id
from stackyard.web.ui.run_pages import run_response
from stackyard.web.ui.templating import forbidden, not_found
from stackyard.web.ui.viewer import SignedIn, Viewer, same_origin

router = APIRouter()

CsrfField = Annotated[str, Form(max_length=200)]

RUN_ACTIONS: dict[str, Callable[[Platform, int], None]] = {
    "confirm": runs.confirm_run,
    "discard": runs.discard_run,
    "cancel": runs.cancel_run,
}


def refusal(request: Request, platform: PlatformDep, viewer: Viewer, csrf_token: str) -> HTMLResponse | None:
    if not same_origin(request, platform.settings.public_url) or not viewer.csrf_ok(csrf_token):
        return forbidden(request, viewer, reason="This form expired or came from another site. "
                                                 "Go back, reload the page and try again.")
    if not viewer.is_admin:
        return forbidden(request, viewer, reason="Your token has the reader role: it may look but not act.")
    return None


@router.post("/runs/{run_id}/{action}", response_class=HTMLResponse)
def act_on_run(request: Request, platform: PlatformDep, viewer: SignedIn, run_id: str, action: str,
               csrf_token: CsrfField = "") -> Response:
    use_case = RUN_ACTIONS.get(action)
    wanted = parse_id(run_id)
    if use_case is None or wanted is None:
        return not_found(request, viewer, what="page", name=request.url.path)
    refused = refusal(request, platform, viewer, csrf_token)
    if refused is not None:
        return refused
    try:
        use_case(platform, wanted)
    except NotFound:
        return run_response(request, platform, viewer, run_id)
    except (Conflict, Invalid) as exc:
        return run_response(request, platform, viewer, run_id, error=str(exc), status_code=409)
    return RedirectResponse(f"/runs/{wanted}", status_code=303)


@router.post("/stacks/{name}/runs", response_class=HTMLResponse)
def trigger(
    request: Request,
    platform: PlatformDep,
    viewer: SignedIn,
    name: str,
    csrf_token: CsrfField = "",
    run_type: Annotated[str, Form(alias="type", max_length=20)] = "tracked",
    sha: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    refused = refusal(request, platform, viewer, csrf_token)
    if refused is not None:
        return refused
    try:
        run_id = runs.trigger_run(platform, name, run_type=run_type, sha=sha.strip() or None)
    except NotFound:
        return stack_response(request, platform, viewer, name)
    except Invalid as exc:
        return stack_response(request, platform, viewer, name, error=str(exc), status_code=400)
    except Conflict as exc:
        return stack_response(request, platform, viewer, name, error=str(exc), status_code=409)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/modules/{name}/runs", response_class=HTMLResponse)
def test_module_tag(
    request: Request,
    platform: PlatformDep,
    viewer: SignedIn,
    name: str,
    csrf_token: CsrfField = "",
    tag: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    refused = refusal(request, platform, viewer, csrf_token)
    if refused is not None:
        return refused
    try:
        run_id = modules.test_tag(platform, name, tag=tag.strip())
    except NotFound:
        return module_response(request, platform, viewer, name)
    except Invalid as exc:
        return module_response(request, platform, viewer, name, error=str(exc), status_code=400)
    except Conflict as exc:
        return module_response(request, platform, viewer, name, error=str(exc), status_code=409)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/modules/{name}/versions/{version}/{action}", response_class=HTMLResponse)
def yank_or_unyank(request: Request, platform: PlatformDep, viewer: SignedIn, name: str, version: str,
                   action: str, csrf_token: CsrfField = "") -> Response:
    if action not in ("yank", "unyank"):
        return not_found(request, viewer, what="page", name=request.url.path)
    refused = refusal(request, platform, viewer, csrf_token)
    if refused is not None:
        return refused
    try:
        module_versions.set_yanked(platform, name, version, yanked=action == "yank")
    except NotFound as exc:
        return module_response(request, platform, viewer, name, error=str(exc), status_code=404)
    except Conflict as exc:
        return module_response(request, platform, viewer, name, error=str(exc), status_code=409)
    return RedirectResponse(f"/modules/{name}", status_code=303)
