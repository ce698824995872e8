"""Feedback over the API: every update GitLab should see, and whether it got there, by run, stack or module."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from stackyard.core.errors import Invalid, NotFound
from stackyard.services.feedback import describe_feedback, describe_item, stack_feedback
from stackyard.services.stacks import get_stack
from stackyard.storage.tables import Feedback, Run
from stackyard.web.api.pagination import LimitParam, newest_first
from stackyard.web.deps import SessionDep

router = APIRouter(tags=["feedback"])

# runs.id is a 32-bit integer column: a larger id is simply not found, never a database error.
RunId = Annotated[int, Path(ge=1, le=2_147_483_647)]
# Git's shortest abbreviation is 4 hex digits; SHA-256 repositories have 64.
_COMMIT = re.compile(r"[0-9a-f]{4,64}")


@router.get("/runs/{run_id}/feedback")
def run_feedback(run_id: RunId, session: SessionDep) -> dict[str, Any]:
    """Newest first, like every list; a run has a handful of items, so there is one page."""
    if session.get(Run, run_id) is None:
        raise NotFound(f"no run {run_id}")
    return {"items": describe_feedback(session, run_id), "next": None}


@router.get("/stacks/{name}/feedback")
def stack_feedback_list(
    name: str, session: SessionDep, commit: str | None = None, limit: LimitParam = 100, cursor: str | None = None
) -> dict[str, Any]:
    """Also the updates no run owns: a `report_untouched` status has `"run": null`."""
    return _feedback_of(session, name, "stack", commit=commit, limit=limit, cursor=cursor)


@router.get("/modules/{name}/feedback")
def module_feedback_list(
    name: str, session: SessionDep, commit: str | None = None, limit: LimitParam = 100, cursor: str | None = None
) -> dict[str, Any]:
    return _feedback_of(session, name, "module", commit=commit, limit=limit, cursor=cursor)


def _feedback_of(
    session: Session, name: str, kind: str, *, commit: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    commit = commit.lower() if commit is not None else None
    if commit is not None and not _COMMIT.fullmatch(commit):
        raise Invalid("commit must be a commit SHA, full or abbreviated (4 to 64 hex digits)")
    owner = get_stack(session, name, kind=kind)
    query = stack_feedback(owner.id, commit=commit)
    rows, next_cursor = newest_first(session, query, Feedback.id, limit=limit, cursor=cursor)
    return {"items": [describe_item(row) for row in rows], "next": next_cursor}
