"""Request dependencies: the platform, a database session and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from stackyard.bootstrap import Platform
from stackyard.core.errors import Forbidden, Unauthorized
from stackyard.services.tokens import Principal, authenticate, principal_for_session

SESSION_COOKIE = "stackyard_session"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_session(platform: PlatformDep) -> Iterator[Session]:
    with platform.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(request: Request, platform: PlatformDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    with platform.sessions() as session:
        if scheme.lower() == "bearer" and credentials.strip():
            return authenticate(session, credentials.strip())
        cookie = request.cookies.get(SESSION_COOKIE)
        # The UI's cookie opens the API for reading only (its log follower): API writes carry no CSRF
        # token, so a page on a sibling site must not be able to make a signed-in browser send one.
        if cookie and request.method not in WRITE_METHODS:
            return principal_for_session(session, cookie)
    raise Unauthorized("missing API token: send Authorization: Bearer <token>")


def require_principal(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Readers may read; anything that writes needs an admin token."""
    if request.method in WRITE_METHODS and not principal.is_admin:
        raise Forbidden("this token has the reader role: it may only read")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
