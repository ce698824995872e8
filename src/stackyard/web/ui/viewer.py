"""Who is looking at a page: the browser session behind the cookie, and its CSRF token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request

from stackyard.core.errors import Unauthorized
from stackyard.services.tokens import Principal, principal_for_session
from stackyard.web.deps import SESSION_COOKIE, PlatformDep
from stackyard.web.ui.links import login_url

CSRF_FIELD = "csrf_token"


def csrf_token_for(session_id: str) -> str:
    """Keyed by the session id itself: a page on another site can neither read the cookie nor this.

    Nothing extra is stored, and the token dies with the session. The database keeps only
    sha256(session id), from which this HMAC cannot be computed.
    """
    return hmac.new(session_id.encode(), b"stackyard-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    session_id: str

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def csrf_token(self) -> str:
        return csrf_token_for(self.session_id)

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(self.csrf_token, submitted or "")


def optional_viewer(request: Request, platform: PlatformDep) -> Viewer | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    with platform.sessions() as session:
        try:
            principal = principal_for_session(session, session_id)
        except Unauthorized:
            return None
    return Viewer(principal=principal, session_id=session_id)


OptionalViewer = Annotated[Viewer | None, Depends(optional_viewer)]


def _page_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def signed_in_viewer(request: Request, viewer: OptionalViewer) -> Viewer:
    """Pages send strangers to /login and back; the 303 goes through the app's HTTP error handler."""
    if viewer is None:
        next_path = _page_path(request) if request.method == "GET" else None
        raise HTTPException(status_code=303, detail="sign in to see this page",
                            headers={"Location": login_url(next_path)})
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in_viewer)]


def same_origin(request: Request, public_url: str) -> bool:
    """A form post must come from our own pages: browsers name the page's origin in `Origin`.

    Both the public URL and the Host the request came to count as ours (a proxy may present either).
    No `Origin` at all (older browsers, some privacy settings) leaves the CSRF token as the guard.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {_origin_of(public_url), f"{request.url.scheme}://{request.url.netloc}"}
    return origin in ours


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
