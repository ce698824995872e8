"""Whether an integration's GitLab token still works, as learnt from every call any service makes.

Call `note_token_failure` when GitLab answers 401 (`ForgeAuthError`) and `note_token_ok` after a call
that succeeded; `watching_token` does both around a block. Each is its own small transaction, so call
them after (never inside) the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update

from stackyard.core.ports import ForgeAuthError
from stackyard.storage.tables import Integration, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


def note_token_failure(platform: Platform, integration_id: int, *, at: datetime | None = None) -> None:
    """GitLab refused the token (401): keep the first time it did, so the UI can say since when."""
    with platform.sessions.begin() as session:
        session.execute(
            update(Integration)
            .where(Integration.id == integration_id, Integration.token_failing_since.is_(None))
            .values(token_failing_since=at or utcnow())
        )


def note_token_ok(platform: Platform, integration_id: int) -> None:
    """A call with the token succeeded: whatever failed before has been fixed."""
    with platform.sessions.begin() as session:
        session.execute(
            update(Integration)
            .where(Integration.id == integration_id, Integration.token_failing_since.is_not(None))
            .values(token_failing_since=None)
        )


@contextmanager
def watching_token(platform: Platform, integration_id: int) -> Iterator[None]:
    """Around GitLab calls: a 401 marks the token failing (and is re-raised); success clears the mark."""
    try:
        yield
    except ForgeAuthError:
        note_token_failure(platform, integration_id)
        raise
    note_token_ok(platform, integration_id)
