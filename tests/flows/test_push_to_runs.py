"""Webhook in, runs out: GitLab (the double) delivers, the worker routes, runs are created once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.storage.tables import Run
from support.gitlab_setup import add_integration, add_stack, gitlab_with_project, replay
from support.queue import drain


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"prod/main.tf": "# prod\n", "dev/main.tf": "# dev\n", "README.md": "hi\n"}) as found:
        yield found


def setup_stacks(client: TestClient, admin: dict[str, str], base_url: str) -> None:
    add_integration(client, admin, base_url)
    for name, root in (("prod", "prod"), ("dev", "dev"), ("docs", "docs")):
        add_stack(client, admin, name=name, project_root=root, vendor="commands", commands={"plan": ["true"]})


def runs(platform: Platform) -> list[tuple[int, str, str, str]]:
    with platform.sessions() as session:
        return [(r.stack_id, r.type, r.commit_sha, r.trigger) for r in session.scalars(select(Run).order_by(Run.id))]


def test_three_stacks_on_one_project_leave_one_hook(client: TestClient, admin: dict[str, str],
                                                    gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    setup_stacks(client, admin, base_url)
    hooks = double.hooks("infra/live")
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook["url"] == "http://127.0.0.1:8080/webhooks/gitlab/gl"
    assert hook["push_events"] and hook["tag_push_events"] and hook["merge_requests_events"] and hook["note_events"]
    assert hook["enable_ssl_verification"]


def test_push_to_mr_branch_makes_one_proposed_run(client: TestClient, admin: dict[str, str], platform: Platform,
                                                  gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    setup_stacks(client, admin, base_url)
    double.push("infra/live", branch="feature", files={"prod/main.tf": "# v1\n"}, deliver=True)
    double.open_merge_request("infra/live", source_branch="feature", target_branch="main", title="t", deliver=True)
    start = len(double.deliveries)
    sha = double.push("infra/live", branch="feature", files={"prod/main.tf": "# v2\n"}, deliver=True)
    events = [d.event for d in double.deliveries[start:]]
    assert sorted(events) == ["Merge Request Hook", "Push Hook"]
    # Each delivery arrives, then GitLab's "resend" of each arrives again.
    assert replay(client, double, 0) == [202] * len(double.deliveries)
    assert replay(client, double, start) == [200, 200]
    drain(platform)
    proposed = [r for r in runs(platform) if r[2] == sha]
    assert len(proposed) == 1
    assert proposed[0][1] == "proposed"
    listed = client.get("/api/v1/deliveries", headers=admin).json()["items"]
    assert all(item["state"] == "processed" for item in listed)
    assert sum(1 for item in listed if proposed and item["runs"]) >= 2


def test_push_to_tracked_branch_makes_tracked_run_for_touched_stack(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    setup_stacks(client, admin, base_url)
    sha = double.push("infra/live", branch="main", files={"dev/main.tf": "# changed\n"}, deliver=True)
    assert replay(client, double, 0) == [202]
    drain(platform)
    made = runs(platform)
    assert [(t, s) for _, t, s, _ in made] == [("tracked", sha)]
    outcome = client.get("/api/v1/deliveries", headers=admin).json()["items"][0]["outcome"]
    assert "dev" in outcome
