"""A run's feedback over the API: every update GitLab should see, and whether it got there."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from stackyard.core.errors import NotFound
from stackyard.services.feedback import describe_feedback
from stackyard.storage.tables import Run
from stackyard.web.deps import SessionDep

router = APIRouter(prefix="/runs", tags=["runs"])

# runs.id is a 32-bit integer column: a larger id is simply not found, never a database error.
RunId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("/{run_id}/feedback")
def run_feedback(run_id: RunId, session: SessionDep) -> dict[str, Any]:
    """Newest first, like every list; a run has a handful of items, so there is one page."""
    if session.get(Run, run_id) is None:
        raise NotFound(f"no run {run_id}")
    return {"items": describe_feedback(session, run_id), "next": None}
