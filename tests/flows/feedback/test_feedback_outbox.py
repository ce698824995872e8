"""The outbox: stored before sent, in order per channel, stale updates skipped, backoff and Retry-After,
permanent refusals shown on the run and the integration, and nothing lost across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from stackyard.bootstrap import Platform, create_platform
from stackyard.services.feedback_sender import send_due_feedback
from stackyard.services.sweep import sweep
from stackyard.settings import Settings
from stackyard.storage.tables import Feedback, Integration, utcnow
from support.feedback_world import (
    PROJECT,
    World,
    advance,
    gitlab_world,
    items_of,
    make_due,
    open_items,
    settle,
    start_run,
)
from support.queue import drain


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app")
        yield built


def feature_commit(world: World, text: str = "v2") -> str:
    return world.double.push(PROJECT, branch="feature", files={"app/main.tf": f"# {text}\n"}, deliver=False)


def test_updates_are_stored_before_anything_is_sent(world: World, platform: Platform) -> None:
    run_id = start_run(platform, "app", sha=feature_commit(world), ref="feature", send=False)
    [item] = items_of(platform, run_id)
    assert (item.kind, item.state, item.payload["state"]) == ("status", "pending", "pending")
    assert world.status_posts() == []
    platform.tasks.send_feedback()  # what the engine enqueues once its transaction committed
    drain(platform)
    [item] = items_of(platform, run_id)
    assert item.state == "sent" and item.sent_at is not None
    assert world.accepted_states() == ["pending"]


def test_a_lagging_worker_skips_stale_states_and_never_sends_them_after(world: World, platform: Platform) -> None:
    run_id = start_run(platform, "app", sha=feature_commit(world), ref="feature", send=False)
    advance(platform, run_id, "preparing", send=False)
    advance(platform, run_id, "failed", failed_during="preparing", reason="no space left", send=False)
    platform.tasks.send_feedback()
    drain(platform)
    assert world.accepted_states() == ["failed"]
    statuses = [i for i in items_of(platform, run_id) if i.kind == "status"]
    assert [(i.payload["state"], i.state) for i in statuses] == [
        ("pending", "skipped"), ("running", "skipped"), ("failed", "sent"),
    ]
    assert statuses[0].last_error == f"superseded by #{statuses[2].id}"
    # Nothing older is sent later, even when the sender runs again.
    make_due(platform)
    send_due_feedback(platform)
    assert world.accepted_states() == ["failed"]


def test_server_errors_back_off_and_then_arrive(world: World, platform: Platform) -> None:
    sha = feature_commit(world)
    world.double.faults.fail_next(count=4, status=500, path_contains="/statuses/")  # beyond python-gitlab's 3 retries
    before = utcnow()
    run_id = start_run(platform, "app", sha=sha, ref="feature")
    [item] = items_of(platform, run_id)
    assert (item.state, item.attempts) == ("pending", 1)
    assert "500" in (item.last_error or "")
    assert item.next_attempt_at >= before + timedelta(seconds=5)
    assert platform.huey.scheduled_count() >= 1  # the sender comes back by itself
    settle(platform)
    [item] = items_of(platform, run_id)
    assert (item.state, item.attempts) == ("sent", 2)
    assert world.accepted_states() == ["pending"]


def test_rate_limit_waits_for_retry_after_for_the_whole_integration(world: World, platform: Platform) -> None:
    world.add_stack("web")
    sha = feature_commit(world)
    world.double.faults.fail_next(count=1, status=429, retry_after=120)
    before = utcnow()
    first = start_run(platform, "app", sha=sha, ref="feature")
    second = start_run(platform, "web", sha=sha, ref="feature")
    assert world.status_posts() == [("pending", 429)]
    [limited] = items_of(platform, first)
    [other] = items_of(platform, second)
    assert limited.state == other.state == "pending"
    assert limited.next_attempt_at >= before + timedelta(seconds=120)
    assert (limited.last_error or "").startswith("rate limited by GitLab for 120 s")
    # GitLab asked for 120 s: the integration's other updates wait too, whoever sends them.
    send_due_feedback(platform)
    assert world.status_posts() == [("pending", 429)]
    settle(platform)
    assert sorted(world.accepted_states()) == ["pending", "pending"]


def test_status_lock_conflicts_are_retried_by_us(world: World, platform: Platform) -> None:
    world.double.faults.status_lock_conflicts(2)
    run_id = start_run(platform, "app", sha=feature_commit(world), ref="feature")
    [item] = items_of(platform, run_id)
    assert item.state == "sent"
    assert world.status_posts() == [("pending", 409), ("pending", 409), ("pending", 201)]


@pytest.mark.parametrize("status", [403, 404])
def test_permanent_refusals_are_shown_and_not_retried(world: World, platform: Platform, status: int) -> None:
    world.double.faults.fail_next(count=1, status=status, path_contains="/statuses/")
    run_id = start_run(platform, "app", sha=feature_commit(world), ref="feature")
    [item] = items_of(platform, run_id)
    assert item.state == "failed" and str(status) in (item.last_error or "")
    assert open_items(platform) == []
    with platform.sessions() as session:
        problem = session.scalars(select(Integration.feedback_problem)).one()
    assert problem is not None and problem.startswith("stack app:") and str(status) in problem
    # The next update that gets through clears the integration's problem.
    advance(platform, run_id, "preparing")
    with platform.sessions() as session:
        assert session.scalars(select(Integration.feedback_problem)).one() is None


def test_updates_survive_a_restart_and_a_worker_that_died_mid_send(
    world: World, platform: Platform, settings: Settings
) -> None:
    sha = feature_commit(world)
    run_id = start_run(platform, "app", sha=sha, ref="feature", send=False)
    advance(platform, run_id, "preparing", send=False)
    # A worker claimed the first update and died before answering: its lease is what remains.
    with platform.sessions.begin() as session:
        session.execute(update(Feedback).where(Feedback.payload["state"].as_string() == "pending")
                        .values(state="sending", next_attempt_at=utcnow() + timedelta(minutes=5)))
    # The queue lost its messages too (a restart); a fresh process only has the database.
    platform.huey.flush()
    restarted = create_platform(settings)
    try:
        sweep(restarted)
        assert world.status_posts() == []  # the lease has not lapsed: nobody sends behind it
        make_due(restarted)
        sweep(restarted)
    finally:
        restarted.engine.dispose()
    assert world.accepted_states() == ["running"]
    assert [i.state for i in items_of(platform, run_id)] == ["skipped", "sent"]
