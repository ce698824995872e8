"""API tokens: created once, stored as a hash, checked on every API request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from stackyard.core.errors import Conflict, Invalid, Unauthorized
from stackyard.storage.tables import ApiToken, WebSession, utcnow

ROLES = ("admin", "reader")


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(sessions: sessionmaker[Session], *, name: str, role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise Invalid("a token needs a name")
    token = "sy_" + secrets.token_urlsafe(32)
    with sessions.begin() as session:
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise Conflict(f"a token named {name!r} already exists")
        session.add(ApiToken(name=name, role=role, token_hash=hash_token(token)))
    return token


def authenticate(session: Session, token: str) -> Principal:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid API token")
    return Principal(token_id=row.id, name=row.name, role=row.role)


def open_web_session(sessions: sessionmaker[Session], *, token: str, max_age: int) -> str:
    """Trades an API token for a browser session id; only the id's hash is stored."""
    session_id = secrets.token_urlsafe(32)
    with sessions.begin() as session:
        principal = authenticate(session, token)
        # Expired sessions are useless; clearing them at sign-in keeps the table from growing forever.
        session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        session.add(
            WebSession(
                session_hash=hash_token(session_id),
                token_id=principal.token_id,
                expires_at=utcnow() + timedelta(seconds=max_age),
            )
        )
    return session_id


def principal_for_session(session: Session, session_id: str) -> Principal:
    row = session.scalar(select(WebSession).where(WebSession.session_hash == hash_token(session_id)))
    if row is None or row.expires_at < utcnow():
        raise Unauthorized("session expired")
    token = session.get(ApiToken, row.token_id)
    if token is None or token.revoked_at is not None:
        raise Unauthorized("session expired")
    return Principal(token_id=token.id, name=token.name, role=token.role)


def close_web_session(sessions: sessionmaker[Session], session_id: str) -> None:
    with sessions.begin() as session:
        row = session.scalar(select(WebSession).where(WebSession.session_hash == hash_token(session_id)))
        if row is not None:
            session.delete(row)
