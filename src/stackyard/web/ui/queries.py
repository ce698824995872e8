"""What the pages read: runs with their stack, a stack's latest run, a run's log tail and its GitLab updates.

Read-only helpers for templates; every write goes through stackyard.services.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stackyard.services.run_log import log_lines
from stackyard.storage.tables import Feedback, Integration, Run, RunLogLine, Stack
from stackyard.web.api.pagination import newest_first

# A page shows at most this many log lines; the full text stays one link away.
LOG_TAIL = 10_000


@dataclass(frozen=True)
class RunItem:
    run: Run
    stack: Stack


@dataclass(frozen=True)
class RunPage:
    items: list[RunItem]
    next_cursor: str | None


def parse_id(raw: str) -> int | None:
    """Ids in paths are positive integers that fit a BIGINT; anything else is simply not found."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def clean_cursor(raw: str | None) -> str | None:
    """A page link with a mangled cursor starts again at the newest rows instead of failing."""
    return raw if raw and parse_id(raw) is not None else None


def runs_page(session: Session, *, stack_id: int | None = None, limit: int = 25,
              cursor: str | None = None) -> RunPage:
    query = select(Run) if stack_id is None else select(Run).where(Run.stack_id == stack_id)
    rows, next_cursor = newest_first(session, query, Run.id, limit=limit, cursor=clean_cursor(cursor))
    stacks = {s.id: s for s in session.scalars(select(Stack).where(Stack.id.in_({r.stack_id for r in rows})))}
    return RunPage(items=[RunItem(run=r, stack=stacks[r.stack_id]) for r in rows], next_cursor=next_cursor)


def latest_runs(session: Session) -> dict[int, Run]:
    newest = select(func.max(Run.id)).group_by(Run.stack_id)
    return {r.stack_id: r for r in session.scalars(select(Run).where(Run.id.in_(newest)))}


def integration_names(session: Session) -> dict[int, str]:
    return {i.id: i.name for i in session.scalars(select(Integration))}


@dataclass(frozen=True)
class LogTail:
    lines: list[RunLogLine]
    cut: bool

    @property
    def last_seq(self) -> int:
        return self.lines[-1].seq if self.lines else 0


def log_tail(session: Session, run_id: int) -> LogTail:
    """The last LOG_TAIL lines; a run's `seq` counts up from 1 without gaps (RunLogWriter)."""
    last = session.scalar(select(func.max(RunLogLine.seq)).where(RunLogLine.run_id == run_id)) or 0
    after = max(0, last - LOG_TAIL)
    return LogTail(lines=log_lines(session, run_id, after=after, limit=LOG_TAIL), cut=after > 0)


def project_url(integration: Integration | None, stack: Stack) -> str | None:
    """GitLab's web URL of the stack's project: the instance URL plus the project path."""
    if integration is None or not stack.repository or stack.repository.isdigit():
        return None
    return f"{integration.api_url}/{stack.repository}"


def run_feedback(session: Session, run_id: int) -> list[Feedback]:
    """Oldest first, the order they are sent in: the page reads as what GitLab was told, step by step."""
    return list(session.scalars(select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.id)))
