"""Run types, states and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class RunType(StrEnum):
    PROPOSED = "proposed"
    TRACKED = "tracked"
    TEST = "test"


class RunState(StrEnum):
    QUEUED = "queued"
    PREPARING = "preparing"
    PLANNING = "planning"
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    APPLYING = "applying"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"
    DISCARDED = "discarded"


class Trigger(StrEnum):
    PUSH = "push"
    TAG = "tag"
    MERGE_REQUEST = "merge_request"
    NOTE = "note"
    MANUAL = "manual"


TERMINAL: frozenset[RunState] = frozenset(
    {RunState.FINISHED, RunState.FAILED, RunState.CANCELED, RunState.DISCARDED}
)

_S = RunState
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    _S.QUEUED: frozenset({_S.PREPARING, _S.CANCELED, _S.FAILED}),
    # Back to QUEUED only when a worker shuts down mid-plan and hands the run back (nothing applied yet).
    _S.PREPARING: frozenset({_S.PLANNING, _S.QUEUED, _S.CANCELED, _S.FAILED}),
    _S.PLANNING: frozenset({_S.UNCONFIRMED, _S.CONFIRMED, _S.FINISHED, _S.QUEUED, _S.CANCELED, _S.FAILED}),
    _S.UNCONFIRMED: frozenset({_S.CONFIRMED, _S.DISCARDED, _S.CANCELED, _S.FAILED}),
    _S.CONFIRMED: frozenset({_S.APPLYING, _S.CANCELED, _S.FAILED}),
    _S.APPLYING: frozenset({_S.FINISHED, _S.FAILED, _S.CANCELED}),
    _S.FINISHED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.DISCARDED: frozenset(),
}


class InvalidTransition(ValueError):
    def __init__(self, current: RunState, wanted: RunState) -> None:
        super().__init__(f"a run cannot go from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


def check_transition(current: RunState, wanted: RunState) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(current, wanted)


# States in which a worker is executing the run (and keeps its heartbeat fresh).
EXECUTING: frozenset[RunState] = frozenset({RunState.PREPARING, RunState.PLANNING, RunState.APPLYING})


def is_terminal(state: RunState) -> bool:
    return state in TERMINAL
