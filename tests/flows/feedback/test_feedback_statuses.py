"""Commit statuses: what GitLab receives as a run moves, per stack and commit (SPEC "What GitLab sees")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackyard.bootstrap import Platform
from support.feedback_world import PROJECT, SUMMARY_ONE_ADD, World, advance, gitlab_world, settle, start_run


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app", autodeploy=True)
        built.add_stack("web")
        yield built


def test_tracked_run_with_autodeploy_goes_pending_running_success(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="main", files={"app/main.tf": "# v2\n"}, deliver=False)
    run_id = start_run(platform, "app", sha=sha, ref="main", type="tracked")
    for state in ("preparing", "planning"):
        advance(platform, run_id, state)
    advance(platform, run_id, "confirmed", **SUMMARY_ONE_ADD)
    advance(platform, run_id, "applying")
    advance(platform, run_id, "finished")
    settle(platform)
    assert world.accepted_states(name="stackyard/app") == ["pending", "running", "success"]
    assert world.refused() == []
    [status] = [s for s in world.double.statuses(PROJECT) if not s["retried"]]
    assert status["sha"] == sha and status["ref"] == "main" and status["name"] == "stackyard/app"
    assert status["target_url"] == f"https://stackyard.example/runs/{run_id}"
    assert str(status["description"]).startswith("+1 ~0 -0 applied")


def test_unconfirmed_run_stays_pending_and_says_it_waits(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="main", files={"web/main.tf": "# v2\n"}, deliver=False)
    run_id = start_run(platform, "web", sha=sha, ref="main", type="tracked")
    advance(platform, run_id, "preparing")
    advance(platform, run_id, "planning")
    advance(platform, run_id, "unconfirmed", plan_text="+ resource", **SUMMARY_ONE_ADD)
    settle(platform)
    assert world.accepted_states(name="stackyard/web") == ["pending", "running"]
    live = [s for s in world.double.statuses(PROJECT) if not s["retried"]]
    assert [(s["status"], s["description"]) for s in live] == [
        ("running", "+1 ~0 -0 would add 1 resource, awaiting confirmation")
    ]


def test_states_that_change_nothing_for_gitlab_are_not_sent(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    run_id = start_run(platform, "app", sha=sha, ref="feature")
    advance(platform, run_id, "preparing")
    # planning and a summary update keep `running`: GitLab refuses running -> running (C1).
    assert advance(platform, run_id, "planning") is False
    assert advance(platform, run_id, "planning", **SUMMARY_ONE_ADD) is False
    advance(platform, run_id, "finished")
    settle(platform)
    assert world.accepted_states() == ["pending", "running", "success"]
    assert world.status_posts() == [("pending", 201), ("running", 201), ("success", 201)]


@pytest.mark.parametrize(("state", "during", "wanted"), [
    ("failed", "planning", "failed"),
    ("canceled", "queued", "canceled"),
    ("discarded", None, "canceled"),
])
def test_a_run_that_stops_still_ends_its_pipeline(
    world: World, platform: Platform, state: str, during: str | None, wanted: str
) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    run_id = start_run(platform, "app", sha=sha, ref="feature")
    advance(platform, run_id, "preparing")
    advance(platform, run_id, state, failed_during=during, reason="worker lost")
    settle(platform)
    live = [s for s in world.double.statuses(PROJECT) if not s["retried"]]
    assert [s["status"] for s in live] == [wanted]
    assert "worker lost" in str(live[0]["description"])
    assert world.refused() == []


def test_a_second_run_on_the_same_commit_never_posts_running_to_pending(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="main", files={"app/main.tf": "# v2\n"}, deliver=False)
    first = start_run(platform, "app", sha=sha, ref="main", type="tracked")
    advance(platform, first, "preparing")
    settle(platform)
    # A second run of the stack on the same commit and ref while the first is still running.
    second = start_run(platform, "app", sha=sha, ref="main", type="proposed", trigger="manual")
    advance(platform, first, "canceled", failed_during="preparing")
    advance(platform, second, "preparing")
    advance(platform, second, "finished")
    settle(platform)
    assert world.refused() == []
    live = [s for s in world.double.statuses(PROJECT) if not s["retried"]]
    assert [s["status"] for s in live] == ["success"]
    assert live[0]["target_url"].endswith(f"/runs/{second}")
