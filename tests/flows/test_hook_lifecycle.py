"""A project's hook lives as long as a stack or module there wants it, and follows the public URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform, create_app, create_platform
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import PROJECT, add_integration, add_stack, gitlab_with_project, replay


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"prod/main.tf": "# prod\n", "dev/main.tf": "# dev\n"}) as found:
        yield found


def two_stacks(client: TestClient, admin: dict[str, str], base_url: str) -> None:
    add_integration(client, admin, base_url)
    for name in ("prod", "dev"):
        add_stack(client, admin, name=name, project_root=name, vendor="commands", commands={"plan": ["true"]})


def managed_hooks(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = client.get("/api/v1/integrations/gl", headers=admin).json()["hooks"]
    return hooks


def again(client: TestClient, double: GitLabDouble, index: int, key: str) -> int:
    """GitLab's delivery `index` sent once more as a new delivery (Idempotency-Key `key`)."""
    delivery = double.deliveries[index]
    headers = {**delivery.headers, "Idempotency-Key": key}
    return client.post("/webhooks/gitlab/gl", content=delivery.body, headers=headers).status_code


def test_the_hook_goes_with_the_last_stack_on_its_project_and_its_secret_stops_working(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    two_stacks(client, admin, base_url)
    double.push(PROJECT, branch="main", files={"prod/main.tf": "# v1\n"}, deliver=True)
    assert replay(client, double) == [202]

    assert client.delete("/api/v1/stacks/prod", headers=admin).status_code == 204
    assert len(double.hooks(PROJECT)) == 1
    assert again(client, double, 0, "after-prod") == 202

    assert client.delete("/api/v1/stacks/dev", headers=admin).status_code == 204
    assert double.hooks(PROJECT) == []
    assert managed_hooks(client, admin) == []
    # The project's own secret opened the endpoint; with its hook gone it opens nothing (in a server
    # started now: one that cached the secret keeps it for webhook_secrets.TTL_SECONDS).
    with TestClient(create_app(platform)) as fresh:
        assert again(fresh, double, 0, "after-dev") == 401


def test_install_webhook_off_removes_the_hook_and_on_puts_it_back(
    client: TestClient, admin: dict[str, str], gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    two_stacks(client, admin, base_url)
    off = {"install_webhook": False}
    assert client.patch("/api/v1/stacks/prod", headers=admin, json=off).status_code == 200
    assert len(double.hooks(PROJECT)) == 1, "dev still wants the hook"
    assert client.patch("/api/v1/stacks/dev", headers=admin, json=off).status_code == 200
    assert double.hooks(PROJECT) == []

    assert client.patch("/api/v1/stacks/dev", headers=admin, json={"install_webhook": True}).status_code == 200
    [hook] = double.hooks(PROJECT)
    assert hook["url"] == "http://127.0.0.1:8080/webhooks/gitlab/gl"
    assert hook["token_present"] is True
    assert [h["state"] for h in managed_hooks(client, admin)] == ["installed"]


def test_a_removal_gitlab_refuses_is_shown_and_done_by_the_next_repair(
    client: TestClient, admin: dict[str, str], gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    two_stacks(client, admin, base_url)
    assert client.delete("/api/v1/stacks/prod", headers=admin).status_code == 204
    double.faults.fail_next(count=10, status=500, path_contains="/hooks/", method="DELETE")
    assert client.delete("/api/v1/stacks/dev", headers=admin).status_code == 204
    assert client.get("/api/v1/stacks/dev", headers=admin).status_code == 404
    [hook] = managed_hooks(client, admin)
    assert hook["state"] == "failed"
    assert "could not remove the hook" in hook["error"]
    assert len(double.hooks(PROJECT)) == 1

    double.faults.clear()
    repaired = client.post("/api/v1/integrations/gl/hooks/repair", headers=admin).json()["items"]
    assert [(item["project"], item["state"]) for item in repaired] == [(PROJECT, "removed")]
    assert double.hooks(PROJECT) == []
    assert managed_hooks(client, admin) == []


def test_a_new_public_url_moves_the_hook_instead_of_adding_a_second(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    two_stacks(client, admin, base_url)
    [before] = double.hooks(PROJECT)
    moved = create_platform(platform.settings.model_copy(update={"public_url": "http://127.0.0.1:18080"}))
    try:
        with TestClient(create_app(moved)) as after_move:
            repaired = after_move.post("/api/v1/integrations/gl/hooks/repair", headers=admin).json()["items"]
    finally:
        moved.engine.dispose()
    assert [(item["state"], item["hook_id"]) for item in repaired] == [("repaired", before["id"])]
    [hook] = double.hooks(PROJECT)
    assert hook["id"] == before["id"]
    assert hook["url"] == "http://127.0.0.1:18080/webhooks/gitlab/gl"
    # GitLab drops a hook's token when its URL changes (GITLAB.md A4): the repair sent it again.
    assert hook["token_present"] is True
    double.push(PROJECT, branch="main", files={"dev/main.tf": "# v1\n"}, deliver=True)
    assert double.deliveries[-1].url == "http://127.0.0.1:18080/webhooks/gitlab/gl"
    assert again(client, double, len(double.deliveries) - 1, "moved") == 202


def stacks_gone_but_gitlab_refused_to_drop_the_hook(
    client: TestClient, admin: dict[str, str], gitlab: tuple[GitLabDouble, str]
) -> GitLabDouble:
    double, base_url = gitlab
    two_stacks(client, admin, base_url)
    double.faults.fail_next(count=10, status=500, path_contains="/hooks/", method="DELETE")
    for name in ("prod", "dev"):
        assert client.delete(f"/api/v1/stacks/{name}", headers=admin).status_code == 204
    return double


def test_an_integration_is_not_unlinked_while_gitlab_may_keep_its_hooks(
    client: TestClient, admin: dict[str, str], gitlab: tuple[GitLabDouble, str]
) -> None:
    double = stacks_gone_but_gitlab_refused_to_drop_the_hook(client, admin, gitlab)
    refused = client.delete("/api/v1/integrations/gl", headers=admin)
    assert refused.status_code == 409
    assert PROJECT in refused.json()["detail"] and "--repair" in refused.json()["detail"]

    double.faults.clear()
    assert client.post("/api/v1/integrations/gl/hooks/repair", headers=admin).status_code == 200
    assert double.hooks(PROJECT) == []
    assert client.delete("/api/v1/integrations/gl", headers=admin).status_code == 204


def test_force_unlinks_an_integration_whose_gitlab_is_gone(
    client: TestClient, admin: dict[str, str], gitlab: tuple[GitLabDouble, str]
) -> None:
    double = stacks_gone_but_gitlab_refused_to_drop_the_hook(client, admin, gitlab)
    assert client.delete("/api/v1/integrations/gl", headers=admin, params={"force": "true"}).status_code == 204
    assert client.get("/api/v1/integrations/gl", headers=admin).status_code == 404
    assert len(double.hooks(PROJECT)) == 1, "left in GitLab, as asked"
