"""Environments and deployments: a tracked run that changes something is a deployment of its stack."""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest

from stackyard.bootstrap import Platform
from stackyard.services.feedback_sender import MAX_ATTEMPTS
from support.feedback_world import (
    PROJECT,
    SUMMARY_ONE_ADD,
    World,
    advance,
    gitlab_world,
    items_of,
    make_due,
    settle,
    start_run,
)
from support.queue import drain


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app", autodeploy=True)
        yield built


def deployment_requests(world: World) -> list[tuple[str, str, int]]:
    return [
        (r.method, str((r.body or {}).get("status")), r.status)
        for r in world.double.requests
        if "/deployments" in r.path and r.method in {"POST", "PUT"}
    ]


def applying_run(platform: Platform, sha: str, *, trigger: str = "push", **fields: object) -> int:
    """A tracked run of the app stack that got as far as applying: its deployment is `running`."""
    run_id = start_run(platform, "app", sha=sha, ref="main", type="tracked", trigger=trigger)
    advance(platform, run_id, "preparing")
    advance(platform, run_id, "planning")
    advance(platform, run_id, "confirmed", **fields)
    advance(platform, run_id, "applying")
    return run_id


def tracked_run(world: World, platform: Platform, final: str, **fields: object) -> int:
    sha = world.double.push(PROJECT, branch="main", files={"app/main.tf": f"# {final}\n"}, deliver=False)
    run_id = applying_run(platform, sha, **fields)
    advance(platform, run_id, final, failed_during="applying" if final != "finished" else None)
    return run_id


def deployment_results(platform: Platform, run_id: int) -> list[tuple[str, str, dict[str, object]]]:
    """(status, item state, result) of the run's deployment items, oldest first."""
    return [(str(i.payload["status"]), i.state, dict(i.result)) for i in items_of(platform, run_id)
            if i.kind == "deployment"]


def test_autodeploy_run_is_a_deployment_running_then_success(world: World, platform: Platform) -> None:
    tracked_run(world, platform, "finished", **SUMMARY_ONE_ADD)
    settle(platform)
    assert deployment_requests(world) == [("POST", "running", 201), ("PUT", "success", 200)]
    [environment] = world.double.environments(PROJECT)
    assert environment["name"] == "stackyard/app"
    assert environment["external_url"] == "https://stackyard.example/stacks/app"
    [deployment] = world.double.deployments(PROJECT)
    assert deployment["status"] == "success" and deployment["ref"] == "main"


def test_the_environment_is_created_once_for_many_runs(world: World, platform: Platform) -> None:
    tracked_run(world, platform, "finished", **SUMMARY_ONE_ADD)
    tracked_run(world, platform, "failed", **SUMMARY_ONE_ADD)
    tracked_run(world, platform, "canceled")  # summary unknown: still a deployment
    settle(platform)
    assert len(world.double.environments(PROJECT)) == 1
    assert [d["status"] for d in world.double.deployments(PROJECT)] == ["success", "failed", "canceled"]
    assert world.refused() == []


def test_no_changes_and_never_applied_runs_are_not_deployments(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="main", files={"app/main.tf": "# same\n"}, deliver=False)
    quiet = start_run(platform, "app", sha=sha, ref="main", type="tracked")
    advance(platform, quiet, "preparing")
    advance(platform, quiet, "planning")
    advance(platform, quiet, "finished", summary_add=0, summary_change=0, summary_destroy=0)
    stopped = start_run(platform, "app", sha=sha, ref="main", type="proposed", trigger="manual")
    advance(platform, stopped, "failed", failed_during="queued")
    settle(platform)
    assert world.double.deployments(PROJECT) == []
    assert deployment_requests(world) == []


@pytest.mark.parametrize("lost", [502, "timeout"])
def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(
    world: World, platform: Platform, lost: int | str
) -> None:
    # GitLab creates the deployment, then its answer is lost: a proxy's 502, or later than our timeout.
    world.double.faults.timeout_seconds = 1.5
    world.double.faults.fail_next(status=lost, path_contains="/deployments", method="POST", after_applying=True)
    run_id = tracked_run(world, platform, "finished", **SUMMARY_ONE_ADD)
    settle(platform)
    [deployment] = world.double.deployments(PROJECT)  # one: the retry made no second one
    assert (deployment["status"], deployment["ref"]) == ("success", "main")
    assert deployment_results(platform, run_id) == [
        ("running", "sent", {"deployment_id": deployment["id"], "environment_id": deployment["environment"]["id"],
                             "adopted": True}),
        ("success", "sent", {"deployment_id": deployment["id"]}),
    ]
    assert world.refused() == []


def test_a_retried_create_adopts_no_deployment_another_run_or_person_holds(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="main", files={"app/main.tf": "# v2\n"}, deliver=False)
    first = applying_run(platform, sha, **SUMMARY_ONE_ADD)
    [held] = world.double.deployments(PROJECT)
    alice = gitlab.Gitlab(world.base_url, private_token="glpat-alice").projects.get(world.project_id, lazy=True)
    by_hand = alice.deployments.create(
        {"environment": "stackyard/app", "sha": sha, "ref": "main", "tag": False, "status": "running"}
    ).id
    # A manual re-run of the same commit; its first create fails before GitLab does anything.
    world.double.faults.fail_next(status=500, path_contains="/deployments", method="POST")
    rerun = applying_run(platform, sha, trigger="manual", **SUMMARY_ONE_ADD)
    advance(platform, rerun, "finished")
    settle(platform)
    # The retry looked for a lost deployment and found only ones it must leave alone.
    assert any(r.method == "GET" and r.path.endswith("/deployments") for r in world.double.requests)
    [(_, _, created), _] = deployment_results(platform, rerun)
    assert "adopted" not in created
    assert {d["id"]: (d["status"], d["user"]["username"]) for d in world.double.deployments(PROJECT)} == {
        held["id"]: ("running", "stackyard-bot"),  # still the first run's, which is applying
        by_hand: ("running", "alice"),
        created["deployment_id"]: ("success", "stackyard-bot"),
    }
    assert deployment_results(platform, first) == [
        ("running", "sent", {"deployment_id": held["id"], "environment_id": held["environment"]["id"]}),
    ]


def test_a_create_that_gave_up_is_found_and_finished_by_the_runs_final_update(
    world: World, platform: Platform
) -> None:
    # GitLab creates the deployment but the answer is lost, then stays unreachable until the create gives up.
    world.double.faults.fail_next(status=502, path_contains="/deployments", method="POST", after_applying=True)
    world.double.faults.fail_next(count=10_000, status=502, path_contains="/deployments", method="GET")
    run_id = tracked_run(world, platform, "finished", **SUMMARY_ONE_ADD)
    for _ in range(MAX_ATTEMPTS + 5):
        if deployment_results(platform, run_id)[0][1] == "failed":
            break
        drain(platform)
        make_due(platform)
        platform.tasks.send_feedback()
    world.double.faults.clear()  # GitLab is back
    settle(platform)
    [deployment] = world.double.deployments(PROJECT)
    assert (deployment["status"], deployment["ref"]) == ("success", "main")
    [(running, gave_up, _), (success, sent, result)] = deployment_results(platform, run_id)
    assert (running, gave_up, success, sent) == ("running", "failed", "success", "sent")
    assert result == {"deployment_id": deployment["id"], "environment_id": deployment["environment"]["id"],
                      "adopted": True}


def test_a_create_that_gave_up_having_made_nothing_is_made_by_the_final_update(
    world: World, platform: Platform
) -> None:
    world.double.faults.fail_next(count=MAX_ATTEMPTS, status=503, path_contains="/deployments", method="POST")
    run_id = tracked_run(world, platform, "failed", **SUMMARY_ONE_ADD)
    settle(platform)
    [deployment] = world.double.deployments(PROJECT)
    assert deployment["status"] == "failed"
    assert deployment_requests(world)[-2:] == [("POST", "running", 201), ("PUT", "failed", 200)]
    [(_, gave_up, _), (_, sent, result)] = deployment_results(platform, run_id)
    assert (gave_up, sent, "adopted" in result) == ("failed", "sent", False)
