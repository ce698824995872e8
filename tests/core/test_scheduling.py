"""Which runs may start: proposed runs side by side, tracked runs one at a time in arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stackyard.core.runs import TERMINAL, RunState, RunType
from stackyard.core.scheduling import RunView, startable, superseded

T0 = datetime(2026, 11, 24, tzinfo=UTC)


def view(run_id: int, run_type: RunType, state: RunState, *, ref: str = "main", iid: int | None = None,
         at: int | None = None) -> RunView:
    return RunView(id=run_id, type=run_type, state=state, ref=ref, merge_request_iid=iid,
                   ordered_at=T0 + timedelta(seconds=at if at is not None else run_id))


runs_strategy = st.lists(
    st.tuples(st.sampled_from(list(RunType)), st.sampled_from(list(RunState)), st.integers(0, 50)),
    max_size=12,
).map(lambda rows: [view(i + 1, t, s, at=at) for i, (t, s, at) in enumerate(rows)])


@given(runs_strategy)
def test_at_most_one_tracked_run_is_in_flight_and_it_is_the_oldest(runs: list[RunView]) -> None:
    ready = set(startable(runs))
    tracked = sorted((r for r in runs if r.type is RunType.TRACKED), key=lambda r: r.order)
    open_tracked = [r for r in tracked if r.state not in TERMINAL]
    ready_tracked = [r for r in tracked if r.id in ready]
    assert len(ready_tracked) <= 1
    if ready_tracked:
        assert ready_tracked[0] is open_tracked[0]
        assert ready_tracked[0].state is RunState.QUEUED
    for r in runs:
        if r.type is not RunType.TRACKED:
            assert (r.id in ready) == (r.state is RunState.QUEUED)


def test_a_newer_tracked_run_waits_behind_an_unconfirmed_one() -> None:
    runs = [view(1, RunType.TRACKED, RunState.UNCONFIRMED), view(2, RunType.TRACKED, RunState.QUEUED),
            view(3, RunType.PROPOSED, RunState.QUEUED)]
    assert startable(runs) == [3]
    runs[0] = view(1, RunType.TRACKED, RunState.DISCARDED)
    assert sorted(startable(runs)) == [2, 3]


def test_arrival_order_beats_id_order() -> None:
    # Run 2's delivery arrived first but was processed second.
    runs = [view(1, RunType.TRACKED, RunState.QUEUED, at=20), view(2, RunType.TRACKED, RunState.QUEUED, at=10)]
    assert startable(runs) == [2]


def test_superseded_means_older_queued_proposed_runs_of_the_same_branch_or_merge_request() -> None:
    runs = [
        view(1, RunType.PROPOSED, RunState.QUEUED, ref="feature", iid=4),
        view(2, RunType.PROPOSED, RunState.PLANNING, ref="feature", iid=4),  # started: left alone
        view(3, RunType.PROPOSED, RunState.QUEUED, ref="other"),
        view(4, RunType.TRACKED, RunState.QUEUED, ref="feature"),
        view(5, RunType.PROPOSED, RunState.QUEUED, ref="refs/merge-requests/4/head", iid=4),
    ]
    push = view(6, RunType.PROPOSED, RunState.QUEUED, ref="feature")  # a push event knows no iid
    assert superseded(push, runs) == [1]
    update = view(7, RunType.PROPOSED, RunState.QUEUED, ref="refs/merge-requests/4/head", iid=4)
    assert superseded(update, runs) == [1, 5]
    assert superseded(view(8, RunType.TRACKED, RunState.QUEUED), runs) == []
