"""Acceptance: with 30% of GitLab calls failing (5xx, 429, timeouts) everything still arrives, once,
with no transition GitLab refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackyard.bootstrap import Platform
from stackyard.core.reports import comment_marker
from stackyard.settings import Settings
from support.feedback_world import PROJECT, SUMMARY_ONE_ADD, World, advance, gitlab_world, settle, start_run


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"gitlab_timeout": 0.3})


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app", autodeploy=True)
        built.add_stack("web")
        yield built


def live_statuses(world: World) -> dict[tuple[str, str, str], str]:
    return {
        (str(s["name"]), str(s["sha"]), str(s["ref"])): str(s["status"])
        for s in world.double.statuses(PROJECT) if not s["retried"]
    }


@pytest.mark.parametrize("seed", [3, 11])
def test_everything_arrives_through_a_flaky_gitlab(world: World, platform: Platform, seed: int) -> None:
    double = world.double
    world.double.push(PROJECT, branch="release", files={"notes.txt": "r\n"}, deliver=False)
    feature = double.push(PROJECT, branch="feature", files={"app/main.tf": "# f\n", "web/main.tf": "# f\n"},
                          deliver=False)
    mrs = [double.open_merge_request(PROJECT, source_branch="feature", target_branch=target, deliver=False)
           for target in ("main", "release")]
    main = double.push(PROJECT, branch="main", files={"app/main.tf": "# m\n", "web/main.tf": "# m\n"},
                       deliver=False)
    double.faults.timeout_seconds = 0.6
    double.faults.random_retry_after = 1
    double.faults.set_random_failures(rate=0.3, seed=seed, kinds=("500", "502", "503", "429", "timeout"))

    proposed = {name: start_run(platform, name, sha=feature, ref="feature") for name in ("app", "web")}
    deploy = start_run(platform, "app", sha=main, ref="main", type="tracked")
    waiting = start_run(platform, "web", sha=main, ref="main", type="tracked")
    for run_id in (*proposed.values(), deploy, waiting):
        advance(platform, run_id, "preparing")
        advance(platform, run_id, "planning")
    advance(platform, proposed["app"], "finished", plan_text="+ app", **SUMMARY_ONE_ADD)
    advance(platform, proposed["web"], "failed", failed_during="planning", plan_text="Error: boom")
    advance(platform, deploy, "confirmed", plan_text="+ app", **SUMMARY_ONE_ADD)
    advance(platform, deploy, "applying")
    advance(platform, deploy, "finished")
    advance(platform, waiting, "unconfirmed", plan_text="+ web", **SUMMARY_ONE_ADD)
    settle(platform)
    double.faults.clear()

    assert any(r.status >= 500 or r.status == 429 for r in double.requests), "the faults never fired"
    assert live_statuses(world) == {
        ("stackyard/app", feature, "feature"): "success",
        ("stackyard/web", feature, "feature"): "failed",
        ("stackyard/app", main, "main"): "success",
        ("stackyard/web", main, "main"): "running",
    }
    descriptions = {str(s["name"]): str(s["description"]) for s in double.statuses(PROJECT)
                    if not s["retried"] and s["ref"] == "main"}
    assert descriptions["stackyard/web"] == "+1 ~0 -0 would add 1 resource, awaiting confirmation"
    # Nothing GitLab refuses was ever sent: every 4xx was an injected 429.
    assert [(r.method, r.path, r.status) for r in double.requests if 400 <= r.status < 500 and r.status != 429] == []
    for iid in mrs:
        for stack in ("app", "web"):
            ours = [n for n in double.notes(PROJECT, iid)
                    if not n["system"] and str(n["body"]).startswith(comment_marker(stack))]
            assert len(ours) == 1, (iid, stack)
    [deployment] = double.deployments(PROJECT)
    assert (deployment["status"], deployment["sha"]) == ("success", main)
    assert len(double.environments(PROJECT)) == 1
