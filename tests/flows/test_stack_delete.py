"""Deleting a stack never strands GitLab: not while a run is live, not before GitLab heard how runs ended."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import PROJECT, add_integration, add_stack, gitlab_with_project, replay
from support.queue import drain


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"app/main.tf": "# app\n"}) as found:
        yield found


def run_awaiting_confirmation(client: TestClient, admin: dict[str, str], platform: Platform,
                              gitlab: tuple[GitLabDouble, str]) -> str:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="app", project_root="app", vendor="commands", commands={"plan": ["true"]})
    sha = double.push(PROJECT, branch="main", files={"app/main.tf": "# v1\n"}, deliver=True)
    assert replay(client, double) == [202]
    drain(platform)
    assert client.get("/api/v1/runs/1", headers=admin).json()["state"] == "unconfirmed"
    return sha


def last_status(double: GitLabDouble, sha: str) -> str:
    return str([s for s in double.statuses(PROJECT) if s["sha"] == sha][-1]["status"])


def test_a_stack_with_a_live_run_is_not_deleted_and_is_once_gitlab_knows_the_end(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, _ = gitlab
    sha = run_awaiting_confirmation(client, admin, platform, gitlab)
    refused = client.delete("/api/v1/stacks/app", headers=admin)
    assert refused.status_code == 409
    assert "run 1 (unconfirmed)" in refused.json()["detail"]
    assert client.get("/api/v1/stacks/app", headers=admin).status_code == 200
    assert len(double.hooks(PROJECT)) == 1

    assert client.post("/api/v1/runs/1/discard", headers=admin).status_code == 200
    untold = client.delete("/api/v1/stacks/app", headers=admin)
    assert untold.status_code == 409
    assert "still on their way to GitLab" in untold.json()["detail"]
    assert last_status(double, sha) == "running"

    drain(platform)
    assert last_status(double, sha) == "canceled"
    assert client.delete("/api/v1/stacks/app", headers=admin).status_code == 204
    assert client.get("/api/v1/stacks/app", headers=admin).status_code == 404
    assert client.get("/api/v1/runs/1", headers=admin).status_code == 404
    assert double.hooks(PROJECT) == []


def test_force_drops_updates_gitlab_has_not_had_yet(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, _ = gitlab
    sha = run_awaiting_confirmation(client, admin, platform, gitlab)
    assert client.post("/api/v1/runs/1/discard", headers=admin).status_code == 200
    assert client.delete("/api/v1/stacks/app", headers=admin, params={"force": "true"}).status_code == 204
    drain(platform)
    assert last_status(double, sha) == "running"
    assert client.get("/api/v1/stacks/app", headers=admin).status_code == 404
