"""Webhook in, real runs, and what GitLab (the double) receives back: statuses, comments,
deployments and the passing status for untouched stacks, with nothing GitLab would refuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.settings import Settings
from support.gitlab_setup import PROJECT, add_integration, add_stack, gitlab_with_project, run_rows
from support.live_stackyard import serving, with_live_public_url
from support.queue import drain

SUMMARY = 'printf \'{"add": 1, "change": 0, "destroy": 0}\' > "$STACKYARD_PLAN_SUMMARY"'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_live_public_url(settings)


@pytest.fixture
def gitlab(platform: Platform) -> Iterator[tuple[GitLabDouble, str]]:
    with serving(platform), gitlab_with_project({"app/main.sh": "echo 0\n", "web/main.sh": "echo 0\n"}) as found:
        yield found


def posts(double: GitLabDouble, path_part: str) -> list[tuple[dict[str, Any], int]]:
    return [(dict(r.body or {}), r.status) for r in double.requests if r.method in ("POST", "PUT")
            and path_part in r.path]


def setup(client: TestClient, admin: dict[str, str], base_url: str, *, autodeploy: bool) -> None:
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="app", project_root="app", vendor="commands", autodeploy=autodeploy,
              commands={"plan": ["echo plan line", SUMMARY], "apply": ["echo applied"]})
    add_stack(client, admin, name="web", project_root="web", vendor="commands", report_untouched=True,
              commands={"plan": ["true"], "apply": ["true"]})


def test_tracked_run_with_autodeploy_as_gitlab_sees_it(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    setup(client, admin, base_url, autodeploy=True)
    sha = double.push(PROJECT, branch="main", files={"app/main.sh": "echo 1\n"})
    drain(platform)
    [run] = run_rows(platform)
    assert run.state == "finished"
    app_statuses = [(b["state"], b.get("description"), code) for b, code in posts(double, "/statuses/")
                    if b.get("name") == "stackyard/app"]
    # The worker here runs the whole run before the outbox is sent, so the outbox skips updates a
    # newer one made stale; what GitLab gets is always an in-order part of the full sequence.
    # (The full pending -> running -> success, sent as the run goes, is in test_feedback_statuses.py.)
    received = [state for state, _d, code in app_statuses]
    assert all(code == 201 for _s, _d, code in app_statuses)
    assert received[-1] == "success"
    assert received == [s for s in ("pending", "running", "success") if s in received]
    assert app_statuses[-1][1].startswith("+1 ~0 -0")
    web = [(b["state"], code) for b, code in posts(double, "/statuses/") if b.get("name") == "stackyard/web"]
    assert web == [("success", 201)]  # report_untouched: this push did not touch web/
    [deployment] = double.deployments(PROJECT)
    assert (deployment["status"], deployment["sha"]) == ("success", sha)
    assert [b["status"] for b, _ in posts(double, "/deployments")] == ["running", "success"]
    assert all(code < 400 for _b, code in posts(double, "/"))
    feedback = client.get(f"/api/v1/runs/{run.id}/feedback", headers=admin).json()["items"]
    assert feedback and all(item["state"] in ("sent", "skipped") for item in feedback)


def test_unconfirmed_run_says_it_waits_and_two_merge_requests_get_the_comment(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    setup(client, admin, base_url, autodeploy=False)
    double.push(PROJECT, branch="release", files={"README.md": "release\n"}, deliver=False)
    double.push(PROJECT, branch="feature", files={"app/main.sh": "echo a\n"}, deliver=False)
    first = double.open_merge_request(PROJECT, source_branch="feature", target_branch="main", title="one")
    second = double.open_merge_request(PROJECT, source_branch="feature", target_branch="release", title="two")
    drain(platform)
    for iid in (first, second):  # one run for the commit, its comment on both merge requests
        ours = [n for n in double.notes(PROJECT, iid) if str(n["body"]).startswith("<!-- stackyard:app -->")]
        assert len(ours) == 1 and "+1 ~0 -0" in str(ours[0]["body"])
    assert [r.type for r in run_rows(platform)] == ["proposed"]

    double.push(PROJECT, branch="main", files={"app/main.sh": "echo b\n"})
    drain(platform)
    tracked = run_rows(platform)[-1]
    assert tracked.state == "unconfirmed", [(r.id, r.type, r.state, r.reason) for r in run_rows(platform)]
    last = [b for b, _ in posts(double, "/statuses/") if b.get("name") == "stackyard/app" and b.get("ref") == "main"]
    assert last[-1]["state"] == "running"
    assert last[-1]["description"] == "+1 ~0 -0 would add 1 resource, awaiting confirmation"


def test_a_merge_request_opened_after_its_commit_was_planned_still_gets_the_comment(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    setup(client, admin, base_url, autodeploy=False)
    double.push(PROJECT, branch="feature", files={"app/main.sh": "echo late\n"})
    drain(platform)
    [run] = run_rows(platform)
    assert run.state == "finished"  # planned, and nobody to comment to yet
    iid = double.open_merge_request(PROJECT, source_branch="feature", target_branch="main", title="late")
    drain(platform)
    ours = [n for n in double.notes(PROJECT, iid) if str(n["body"]).startswith("<!-- stackyard:app -->")]
    assert len(ours) == 1 and f"/runs/{run.id}" in str(ours[0]["body"])
    assert [r.merge_request_iid for r in run_rows(platform)] == [iid]  # still one run, now knowing its MR
    # The merge request's "update" for the same head changes nothing: still one comment.
    double.open_merge_request(PROJECT, source_branch="feature", target_branch="main", title="again")
    drain(platform)
    assert len([n for n in double.notes(PROJECT, iid) if str(n["body"]).startswith("<!-- stackyard:app -->")]) == 1
