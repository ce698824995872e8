"""The rules the feedback outbox relies on, enforced by the double as GitLab's API enforces them
(GITLAB.md C1 statuses, C2 notes, C4 deployments, C10 rate limits)."""

from __future__ import annotations

import gitlab
import httpx
import pytest
from gitlab_double_shared import PROJECT_PATH, TOKEN

from stackyard.devtools.gitlab_double import GitLabDouble

pytest_plugins = ("gitlab_double_fixtures",)


def test_every_status_limit_is_refused_together_and_nothing_is_stored(
    double: GitLabDouble, gl: gitlab.Gitlab
) -> None:
    sha = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    commit = gl.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    too_long = {"state": "pending", "name": "stackyard/app", "description": "d" * 256,
                "target_url": "https://x.example/" + "u" * 240, "ref": "r" * 256}
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create(too_long)
    assert caught.value.error_message == {
        "description": ["is too long (maximum is 255 characters)"],
        "target_url": ["is too long (maximum is 255 characters)"],
        "ref": ["is too long (maximum is 255 characters)"],
    }
    assert double.statuses(PROJECT_PATH) == []


@pytest.mark.parametrize(("first", "second"), [("pending", "pending"), ("running", "running"),
                                                ("running", "pending"), ("running", "skipped")])
def test_status_transitions_gitlab_refuses(double: GitLabDouble, gl: gitlab.Gitlab, first: str, second: str) -> None:
    sha = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    commit = gl.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    commit.statuses.create({"state": first, "name": "stackyard/app", "description": "one"})
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": second, "name": "stackyard/app", "description": "two"})
    assert caught.value.response_code == 400
    assert caught.value.error_message.startswith("Cannot transition status via :")
    assert caught.value.error_message.split(" from :")[1].startswith(first)
    # The description did not change without the state (C1).
    assert [s["description"] for s in double.statuses(PROJECT_PATH)] == ["one"]


def test_each_ref_of_a_commit_has_its_own_status(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    sha = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    commit = gl.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    commit.statuses.create({"state": "running", "name": "stackyard/app", "ref": "feature"})
    commit.statuses.create({"state": "running", "name": "stackyard/app", "ref": "refs/merge-requests/1/head"})
    assert sorted(str(s["ref"]) for s in double.statuses(PROJECT_PATH)) == ["feature", "refs/merge-requests/1/head"]


def test_fork_commit_statuses_can_be_refused(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    double.fork_project(PROJECT_PATH, "alice/app")
    sha = double.push("alice/app", branch="patch", files={"a.tf": "fork\n"}, deliver=False)
    double.open_merge_request(PROJECT_PATH, source_branch="patch", source_project="alice/app", deliver=False)
    commit = gl.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    body = {"state": "pending", "name": "stackyard/app", "ref": "refs/merge-requests/1/head"}
    double.refuse_fork_statuses = True
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create(body)
    assert caught.value.response_code == 403
    # A commit on one of the project's own branches is still accepted.
    own = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "own\n"}, deliver=False)
    gl.projects.get(PROJECT_PATH, lazy=True).commits.get(own, lazy=True).statuses.create(body)
    double.refuse_fork_statuses = False
    assert commit.statuses.create(body).status == "pending"


@pytest.mark.parametrize("final", ["success", "failed", "canceled"])
def test_deployments_refuse_a_repeated_final_state_and_going_back_to_running(
    double: GitLabDouble, gl: gitlab.Gitlab, final: str
) -> None:
    project = gl.projects.get(PROJECT_PATH)
    main = project.branches.get("main").commit["id"]
    deployment = project.deployments.create(
        {"environment": "stackyard/app", "sha": main, "ref": "main", "tag": False, "status": "running"}
    )
    deployment.status = final
    deployment.save()
    for refused in (final, "running"):
        deployment.status = refused
        with pytest.raises(gitlab.GitlabUpdateError) as caught:
            deployment.save()
        assert (caught.value.response_code, caught.value.error_message) == (400, {})
    # Another final state is allowed (success -> failed, and so on).
    other = "failed" if final != "failed" else "success"
    deployment.status = other
    deployment.save()
    assert [d["status"] for d in double.deployments(PROJECT_PATH)] == [other]


def test_deployment_lists_filter_by_updated_at_only_when_sorted_by_it(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(PROJECT_PATH, lazy=True)
    main = double.project(PROJECT_PATH).branches["main"]
    made = []
    for second in (100, 200, 300):
        double.clock = lambda second=second: 1_700_000_000.0 + second
        made.append(project.deployments.create(
            {"environment": "stackyard/app", "sha": main, "ref": "main", "tag": False, "status": "running"}
        ).id)
    since = "2023-11-14T22:16:40Z"  # 1_700_000_200: bounds are inclusive, as GitLab's scopes are
    # DeploymentsFinder#validate!: a time filter must be sorted by its own column.
    with pytest.raises(gitlab.GitlabListError) as caught:
        project.deployments.list(updated_after=since, order_by="id")
    assert (caught.value.response_code, caught.value.error_message) == (
        400, "400 Bad request - `updated_at` filter requires `updated_at` sort"
    )
    with pytest.raises(gitlab.GitlabListError) as caught:
        project.deployments.list(updated_after="yesterday", order_by="updated_at")
    assert caught.value.error_message == "updated_after is invalid"
    listed = project.deployments.list(
        environment="stackyard/app", status="running", updated_after=since, order_by="updated_at", sort="desc"
    )
    assert [d.id for d in listed] == [made[2], made[1]]
    before = project.deployments.list(updated_before=since, order_by="updated_at")
    assert [d.id for d in before] == [made[0], made[1]]


def test_note_lists_are_paginated_and_include_system_notes(double: GitLabDouble, base_url: str) -> None:
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature", deliver=False)
    for n in range(30):
        double.add_note(PROJECT_PATH, iid, f"system {n}", system=True, deliver=False)
    double.add_note(PROJECT_PATH, iid, "<!-- stackyard:app -->\nplan", author="stackyard-bot", deliver=False)
    url = f"{base_url}/api/v4/projects/1/merge_requests/{iid}/notes"
    first = httpx.get(url, params={"sort": "asc", "per_page": 20}, headers={"PRIVATE-TOKEN": TOKEN})
    assert first.headers["x-total"] == "31" and first.headers["x-next-page"] == "2"
    assert all(n["system"] for n in first.json())
    second = httpx.get(first.links["next"]["url"], headers={"PRIVATE-TOKEN": TOKEN})
    assert [n["system"] for n in second.json()][-1] is False


def test_rate_limit_answers_carry_retry_after_and_reset(double: GitLabDouble, base_url: str) -> None:
    double.faults.fail_next(status=429, retry_after=7)
    answer = httpx.get(f"{base_url}/api/v4/projects/1", headers={"PRIVATE-TOKEN": TOKEN})
    assert answer.status_code == 429 and answer.text == "Retry later\n"
    assert answer.headers["Retry-After"] == "7"
    assert int(answer.headers["RateLimit-Reset"]) >= int(double.clock()) + 6
