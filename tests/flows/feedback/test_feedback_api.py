"""GET /api/v1/runs/{id}/feedback: every update of a run, and whether GitLab has it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from support.feedback_world import PROJECT, World, advance, gitlab_world, start_run


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app")
        yield built


def test_feedback_lists_sent_pending_and_failed_items_with_reasons(
    world: World, platform: Platform, client: TestClient, reader: dict[str, str]
) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    run_id = start_run(platform, "app", sha=sha, ref="feature")
    world.double.faults.fail_next(count=1, status=403, path_contains="/statuses/")
    advance(platform, run_id, "preparing")
    world.double.faults.fail_next(count=4, status=502, path_contains="/statuses/")
    advance(platform, run_id, "failed", failed_during="preparing")
    response = client.get(f"/api/v1/runs/{run_id}/feedback", headers=reader)
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    comment, *items = body["items"]
    assert (comment["kind"], comment["update"]["run_state"], comment["state"]) == ("comment", "failed", "sent")
    assert comment["result"] == {"notes": {}}  # no merge request has this commit as its head
    assert [(i["kind"], i["update"]["state"], i["state"]) for i in items] == [
        ("status", "failed", "pending"),
        ("status", "running", "failed"),
        ("status", "pending", "sent"),
    ]
    waiting, refused, sent = items
    assert "502" in waiting["error"] and waiting["attempts"] == 1 and waiting["next_attempt_at"]
    assert "403" in refused["error"] and refused["next_attempt_at"] is None
    assert sent["error"] is None and sent["sent_at"] and sent["update"]["name"] == "stackyard/app"


def test_feedback_of_an_unknown_run_is_404(client: TestClient, reader: dict[str, str]) -> None:
    assert client.get("/api/v1/runs/999/feedback", headers=reader).status_code == 404
    assert client.get("/api/v1/runs/99999999999999999999/feedback", headers=reader).status_code == 422
    assert client.get("/api/v1/runs/1/feedback").status_code == 401
