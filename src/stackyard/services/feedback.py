"""Turning a run's new state into outbox rows: what GitLab should see next (sent by feedback_sender)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from stackyard.storage.tables import Run, Stack

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


def record_run_feedback(session: Session, platform: Platform, run: Run, stack: Stack) -> bool:
    """Called in the same transaction as every change of a run's state (and of its summary).

    Returns True when something was added to the outbox; the caller then enqueues
    `platform.tasks.send_feedback()` after its commit.
    """
    return False


def describe_feedback(session: Session, run_id: int) -> list[dict[str, object]]:
    """Every outbox item of a run and its state, for `GET /api/v1/runs/{id}/feedback`."""
    return []
