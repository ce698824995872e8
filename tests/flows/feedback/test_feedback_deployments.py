"""Environments and deployments: a tracked run that changes something is a deployment of its stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackyard.bootstrap import Platform
from support.feedback_world import PROJECT, SUMMARY_ONE_ADD, World, advance, gitlab_world, settle, start_run


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


def tracked_run(world: World, platform: Platform, final: str, **fields: object) -> int:
    sha = world.double.push(PROJECT, branch="main", files={"app/main.tf": f"# {final}\n"}, deliver=False)
    run_id = start_run(platform, "app", sha=sha, ref="main", type="tracked")
    advance(platform, run_id, "preparing")
    advance(platform, run_id, "planning")
    advance(platform, run_id, "confirmed", **fields)
    advance(platform, run_id, "applying")
    advance(platform, run_id, final, failed_during="applying" if final != "finished" else None)
    return run_id


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
