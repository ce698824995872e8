"""Signing in with an API token (a session cookie in return) and signing out.

The session cookie is HttpOnly, SameSite=Lax, Secure when the public URL is https. Lax, not
Strict: the links Stackyard puts into GitLab are cross-site navigations, and with Strict a signed-in
person following one would arrive without their cookie and be asked to sign in again. Lax still
keeps the cookie off cross-site POSTs; every form also carries a CSRF token and is refused when
its `Origin` is not ours (see viewer.py).

The sign-in form has no session yet, so it uses a double-submit token: a random value in a
short-lived SameSite=Strict cookie that must come back in the form (no login CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stackyard.core.errors import Unauthorized
from stackyard.services.tokens import close_web_session, open_web_session
from stackyard.web.deps import SESSION_COOKIE, PlatformDep
from stackyard.web.ui.links import safe_next
from stackyard.web.ui.templating import forbidden, render
from stackyard.web.ui.viewer import OptionalViewer, same_origin

router = APIRouter()

LOGIN_CSRF_COOKIE = "stackyard_login"
_LOGIN_CSRF_AGE = 3600
_MAX_TOKEN = 1000


def _secure(platform: PlatformDep) -> bool:
    return platform.settings.public_url.startswith("https://")


def _login_form(request: Request, platform: PlatformDep, *, next_path: str, error: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    existing = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    form_token = existing if 20 <= len(existing) <= 100 else secrets.token_urlsafe(32)
    response = render(request, "login.html", viewer=None, status_code=status_code, next_path=next_path,
                      form_token=form_token, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, form_token, max_age=_LOGIN_CSRF_AGE, path="/login", httponly=True,
                        samesite="strict", secure=_secure(platform))
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, platform: PlatformDep, viewer: OptionalViewer, next: str | None = None) -> Response:
    if viewer is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, platform, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    platform: PlatformDep,
    token: Annotated[str, Form(max_length=_MAX_TOKEN)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    next_path = safe_next(next)
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_origin(request, platform.settings.public_url) or not cookie_token or not hmac.compare_digest(
        cookie_token, csrf_token
    ):
        return _login_form(request, platform, next_path=next_path, status_code=403,
                           error="This form expired or came from another site. Please sign in again.")
    if not token.strip():
        return _login_form(request, platform, next_path=next_path, status_code=400, error="Enter an API token.")
    try:
        session_id = open_web_session(platform.sessions, token=token.strip(),
                                      max_age=platform.settings.session_max_age)
    except Unauthorized:
        return _login_form(request, platform, next_path=next_path, status_code=401,
                           error="That token is not valid (it may have been revoked).")
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=platform.settings.session_max_age, path="/",
                        httponly=True, samesite="lax", secure=_secure(platform))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    platform: PlatformDep,
    viewer: OptionalViewer,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    if not same_origin(request, platform.settings.public_url) or not viewer.csrf_ok(csrf_token):
        return forbidden(request, viewer, reason="This sign-out form expired or came from another site.")
    close_web_session(platform.sessions, viewer.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(platform))
    return response
