"""A token GitLab starts refusing while the worker routes a delivery marks the integration, in words to act on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from support.queue import drain

TOKEN = "glpat-flow401"


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    double = GitLabDouble()
    double.add_user(username="stackyard-bot", token=TOKEN, scopes=("api",), expires_at=None)
    double.add_project(path="infra/live", default_branch="main", files={"prod/main.tf": "# prod\n"})
    with serve_double(double) as base_url:
        yield double, base_url


def test_changed_paths_lookup_401_marks_the_token_failing(client: TestClient, admin: dict[str, str],
                                                          platform: Platform, gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    body = {"kind": "gitlab", "name": "gl", "api_url": base_url, "token": TOKEN}
    assert client.post("/api/v1/integrations", headers=admin, json=body).status_code == 201
    stack = {"name": "prod", "integration": "gl", "repository": "infra/live", "project_root": "prod",
             "vendor": "commands", "commands": {"plan": ["true"]}}
    assert client.post("/api/v1/stacks", headers=admin, json=stack).status_code == 201
    double.push("infra/live", branch="feature", files={"prod/main.tf": "# changed\n"}, deliver=False)
    double.open_merge_request("infra/live", source_branch="feature", target_branch="main", title="t", deliver=True)
    double.revoke_token(TOKEN)
    # A merge request event carries no file list: the worker asks GitLab for the changes (C6).
    (delivery,) = [d for d in double.deliveries if d.event == "Merge Request Hook"]
    assert client.post("/webhooks/gitlab/gl", content=delivery.body, headers=delivery.headers).status_code == 202
    drain(platform)
    shown = client.get("/api/v1/integrations/gl", headers=admin).json()
    assert shown["token_failing_since"] is not None
    assert any("401" in problem and "new access token" in problem for problem in shown["problems"])
    listed = client.get("/api/v1/deliveries", headers=admin).json()["items"]
    assert listed[0]["state"] == "processed"
