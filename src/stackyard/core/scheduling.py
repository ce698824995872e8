"""Which runs of a stack may start now, and which a newer commit makes pointless."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from stackyard.core.runs import TERMINAL, RunState, RunType


@dataclass(frozen=True)
class RunView:
    """The little a scheduling decision needs to know about one run."""

    id: int
    type: RunType
    state: RunState
    ref: str
    merge_request_iid: int | None = None
    # When the change arrived; ties (and unknowns) fall back to the id.
    ordered_at: datetime | None = None

    @property
    def order(self) -> tuple[float, int]:
        return (self.ordered_at.timestamp() if self.ordered_at else float("inf"), self.id)


def startable(runs: Iterable[RunView]) -> list[int]:
    """Ids of queued runs that may start now, oldest first.

    Proposed and test runs only plan, so they run side by side. Tracked runs change real
    infrastructure: one stack applies one commit at a time, in the order the commits arrived
    (`ordered_at`: when GitLab's delivery arrived). A tracked run waiting for confirmation holds the line, so a
    newer commit queues behind it instead of overtaking or being dropped.
    """
    ordered = sorted(runs, key=lambda r: r.order)
    ready = [r.id for r in ordered if r.type is not RunType.TRACKED and r.state is RunState.QUEUED]
    first_open = next((r for r in ordered if r.type is RunType.TRACKED and r.state not in TERMINAL), None)
    if first_open is not None and first_open.state is RunState.QUEUED:
        ready.append(first_open.id)
    return ready


def superseded(new: RunView, runs: Sequence[RunView]) -> list[int]:
    """Older proposed runs of the same branch or merge request that have not started.

    Same branch counts even when only one side knows the merge request: GitLab's push event for a
    merge request's branch often arrives before the merge request event, and carries no iid.

    Their plans would describe a commit nobody will merge any more. Runs that already started
    finish: killing a plan halfway helps no one and its log may still be read.
    """
    if new.type is not RunType.PROPOSED:
        return []
    return [
        r.id
        for r in runs
        if r.order < new.order
        and r.type is RunType.PROPOSED
        and r.state is RunState.QUEUED
        and (r.ref == new.ref or (new.merge_request_iid is not None and r.merge_request_iid == new.merge_request_iid))
    ]
