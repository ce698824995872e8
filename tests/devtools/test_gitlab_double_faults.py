"""Injected failures: python-gitlab's retry rules must react to them as they do to gitlab.com (D3)."""

from __future__ import annotations

import gitlab
import pytest
import requests
from gitlab_double_shared import PROJECT_PATH, TOKEN

from stackyard.devtools.gitlab_double import GitLabDouble

# Fixtures live in a uniquely named module: a conftest.py would shadow other folders' conftest.
pytest_plugins = ("gitlab_double_fixtures",)


def _statuses_for(double: GitLabDouble, fragment: str) -> list[int]:
    return [r.status for r in double.requests if fragment in r.path]


def test_429_with_retry_after_is_obeyed_transparently(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    double.faults.fail_next(status=429, retry_after=1, path_contains="/projects/")
    project = gl.projects.get(PROJECT_PATH)
    assert project.path_with_namespace == PROJECT_PATH
    assert _statuses_for(double, "/projects/") == [429, 200]


def test_429_carries_rack_attack_headers(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    double.faults.fail_next(status=429, retry_after=1)
    with pytest.raises(gitlab.GitlabGetError) as caught:
        gl.projects.get(PROJECT_PATH, obey_rate_limit=False)
    assert caught.value.response_code == 429
    assert caught.value.response_body == b"Retry later\n"


def test_500_is_retried_only_when_asked(double: GitLabDouble, base_url: str) -> None:
    patient = gitlab.Gitlab(base_url, private_token=TOKEN, retry_transient_errors=True)
    double.faults.fail_next(count=2, status=500)
    assert patient.projects.get(PROJECT_PATH).id == 1
    assert _statuses_for(double, "/projects/") == [500, 500, 200]
    strict = gitlab.Gitlab(base_url, private_token=TOKEN)
    double.faults.fail_next(status=502, path_contains="/projects/")
    with pytest.raises(gitlab.GitlabGetError) as caught:
        strict.projects.get(PROJECT_PATH)
    assert caught.value.response_code == 502


def test_timeout_fails_before_mutation_and_the_retry_applies_once(
    double: GitLabDouble, base_url: str
) -> None:
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature")
    double.faults.timeout_seconds = 1.0
    double.faults.fail_next(status="timeout", path_contains="/notes")
    client = gitlab.Gitlab(base_url, private_token=TOKEN, timeout=0.3, retry_transient_errors=True)
    mr = client.projects.get(PROJECT_PATH, lazy=True).mergerequests.get(iid, lazy=True)
    mr.notes.create({"body": "plan output"})
    assert [n["body"] for n in double.notes(PROJECT_PATH, iid)] == ["plan output"]


def _deploy(client: gitlab.Gitlab, sha: str) -> None:
    client.projects.get(PROJECT_PATH, lazy=True).deployments.create(
        {"environment": "production", "sha": sha, "ref": "main", "tag": False, "status": "running"}
    )


def test_an_answer_lost_after_applying_makes_a_retried_post_repeat_it(double: GitLabDouble, base_url: str) -> None:
    main = double.project(PROJECT_PATH).branches["main"]
    double.faults.fail_next(status=502, path_contains="/deployments", method="POST", after_applying=True)
    patient = gitlab.Gitlab(base_url, private_token=TOKEN, retry_transient_errors=True)
    _deploy(patient, main)  # python-gitlab retries the 502 (D3): there is no idempotency key (C4)
    assert _statuses_for(double, "/deployments") == [502, 201]
    assert [d["status"] for d in double.deployments(PROJECT_PATH)] == ["running", "running"]


def test_a_timeout_after_applying_leaves_the_change_in_gitlab(double: GitLabDouble, base_url: str) -> None:
    main = double.project(PROJECT_PATH).branches["main"]
    double.faults.timeout_seconds = 1.0
    double.faults.fail_next(status="timeout", path_contains="/deployments", after_applying=True)
    client = gitlab.Gitlab(base_url, private_token=TOKEN, timeout=0.3)
    with pytest.raises(requests.Timeout):
        _deploy(client, main)
    [deployment] = double.deployments(PROJECT_PATH)
    assert deployment["status"] == "running"


def test_random_failures_are_seeded_and_clearable(double: GitLabDouble, base_url: str) -> None:
    client = gitlab.Gitlab(base_url, private_token=TOKEN, retry_transient_errors=True)
    double.faults.random_retry_after = 0
    double.faults.set_random_failures(rate=0.5, seed=3, kinds=("500", "502", "429"))
    for _ in range(5):
        assert client.projects.get(PROJECT_PATH, max_retries=20).id == 1
    assert {500, 502, 429} & set(_statuses_for(double, "/projects/"))
    double.faults.clear()
    before = len(double.requests)
    client.projects.get(PROJECT_PATH)
    assert [r.status for r in double.requests[before:]] == [200]


def test_faults_do_not_touch_paths_outside_the_filter(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    double.faults.fail_next(status=500, path_contains="/hooks")
    assert gl.projects.get(PROJECT_PATH).id == 1
    with pytest.raises(gitlab.GitlabListError):
        gl.projects.get(PROJECT_PATH, lazy=True).hooks.list()
