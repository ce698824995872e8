"""Runs doing real work: a `commands` stack planned and applied through the queue, as GitLab triggers it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import add_integration, add_stack, gitlab_with_project, replay, run_rows
from support.queue import drain

SUMMARY = 'printf \'{"add": 2, "change": 1, "destroy": 0}\' > "$STACKYARD_PLAN_SUMMARY"'


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"app/main.sh": "echo v0\n", "README.md": "hi\n"}) as found:
        yield found


def commands_stack(client: TestClient, admin: dict[str, str], base_url: str, out: Path, **extra: object) -> None:
    add_integration(client, admin, base_url)
    add_stack(
        client, admin, name="app", project_root="app", vendor="commands",
        commands={
            "plan": ["echo planning $STACKYARD_COMMIT_SHA", "cat main.sh", SUMMARY],
            "apply": [f"echo $STACKYARD_COMMIT_SHA >> {out}", "echo applied"],
        },
        **extra,
    )


def test_merge_request_plans_and_reports_the_summary(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    applied = tmp_path / "applied.txt"
    commands_stack(client, admin, base_url, applied)
    sha = double.push("infra/live", branch="feature", files={"app/main.sh": "echo v1\n"}, deliver=False)
    double.open_merge_request("infra/live", source_branch="feature", target_branch="main", title="t")
    replay(client, double)
    drain(platform)
    [run] = run_rows(platform)
    assert (run.type, run.state, run.commit_sha) == ("proposed", "finished", sha)
    shown = client.get(f"/api/v1/runs/{run.id}", headers=admin).json()
    assert shown["summary"] == {"add": 2, "change": 1, "destroy": 0}
    assert shown["trigger"] == "merge_request" and shown["merge_request_iid"] == 1
    logs = client.get(f"/api/v1/runs/{run.id}/logs", headers=admin).text
    assert f"planning {sha}" in logs
    assert "echo v1" in logs  # the exact commit's files, fetched through the archive API
    assert not applied.exists()  # proposed runs never apply


def test_tracked_run_waits_for_confirmation_then_applies(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    applied = tmp_path / "applied.txt"
    commands_stack(client, admin, base_url, applied)
    sha = double.push("infra/live", branch="main", files={"app/main.sh": "echo v2\n"})
    replay(client, double)
    drain(platform)
    [run] = run_rows(platform)
    assert (run.type, run.state) == ("tracked", "unconfirmed")
    assert not applied.exists()
    assert client.post(f"/api/v1/runs/{run.id}/discard", headers={}).status_code == 401
    answer = client.post(f"/api/v1/runs/{run.id}/confirm", headers=admin)
    assert answer.status_code == 200 and answer.json()["state"] == "confirmed"
    drain(platform)
    assert run_rows(platform)[0].state == "finished"
    assert applied.read_text() == f"{sha}\n"
    assert "applied" in client.get(f"/api/v1/runs/{run.id}/logs", headers=admin).text
    again = client.post(f"/api/v1/runs/{run.id}/confirm", headers=admin)
    assert again.status_code == 409 and "only an unconfirmed tracked run" in again.json()["detail"]


def test_newer_tracked_commit_queues_behind_an_unconfirmed_one_and_discard_lets_it_go(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    commands_stack(client, admin, base_url, tmp_path / "applied.txt")
    double.push("infra/live", branch="main", files={"app/main.sh": "echo a\n"})
    double.push("infra/live", branch="main", files={"app/main.sh": "echo b\n"})
    replay(client, double)
    drain(platform)
    first, second = run_rows(platform)
    assert (first.state, second.state) == ("unconfirmed", "queued")
    assert client.post(f"/api/v1/runs/{first.id}/discard", headers=admin).json()["state"] == "discarded"
    drain(platform)
    assert [r.state for r in run_rows(platform)] == ["discarded", "unconfirmed"]


def test_newer_commit_on_a_merge_request_cancels_the_older_queued_plan(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    commands_stack(client, admin, base_url, tmp_path / "applied.txt")
    double.push("infra/live", branch="feature", files={"app/main.sh": "echo 1\n"}, deliver=False)
    double.open_merge_request("infra/live", source_branch="feature", target_branch="main", title="t")
    double.push("infra/live", branch="feature", files={"app/main.sh": "echo 2\n"})
    replay(client, double)  # both commits arrive before the worker gets to the first
    drain(platform)
    older, newer = run_rows(platform)
    assert older.state == "canceled" and older.reason is not None and "superseded" in older.reason
    assert newer.state == "finished"


def test_autodeploy_applies_without_confirmation_and_empty_plans_skip_apply(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    applied = tmp_path / "applied.txt"
    commands_stack(client, admin, base_url, applied, autodeploy=True)
    sha = double.push("infra/live", branch="main", files={"app/main.sh": "echo 3\n"})
    replay(client, double)
    drain(platform)
    assert [r.state for r in run_rows(platform)] == ["finished"]
    assert applied.read_text() == f"{sha}\n"
    patch = {"commands": {"plan": ['echo \'{"add":0,"change":0,"destroy":0}\' > "$STACKYARD_PLAN_SUMMARY"'],
                          "apply": [f"echo again >> {applied}"]}}
    assert client.patch("/api/v1/stacks/app", headers=admin, json=patch).status_code == 200
    double.push("infra/live", branch="main", files={"app/main.sh": "echo 4\n"})
    replay(client, double, 1)
    drain(platform)
    assert [r.state for r in run_rows(platform)] == ["finished", "finished"]
    assert applied.read_text() == f"{sha}\n"  # nothing to change: no apply


def test_failed_plan_and_time_limit_say_why(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="bad", project_root="app", vendor="commands",
              commands={"plan": ["echo about to fail", "exit 3"], "apply": ["true"]})
    add_stack(client, admin, name="slow", project_root="app", vendor="commands", time_limit=1,
              commands={"plan": ["exec tail -f /dev/null"], "apply": ["true"]})
    double.push("infra/live", branch="main", files={"app/main.sh": "echo 5\n"})
    replay(client, double)
    drain(platform)
    by_stack = {client.get(f"/api/v1/runs/{r.id}", headers=admin).json()["stack"]: r for r in run_rows(platform)}
    assert by_stack["bad"].state == "failed" and by_stack["bad"].failed_during == "planning"
    assert "plan exited with an error" in (by_stack["bad"].reason or "")
    assert by_stack["slow"].state == "failed"
    assert "time limit of 1 s" in (by_stack["slow"].reason or "")


def test_manual_trigger_runs_the_branch_head_and_may_repeat(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    commands_stack(client, admin, base_url, tmp_path / "applied.txt", install_webhook=False)
    head = double.push("infra/live", branch="main", files={"app/main.sh": "echo 6\n"}, deliver=False)
    made = client.post("/api/v1/stacks/app/runs", headers=admin, json={"type": "proposed"})
    assert made.status_code == 201, made.text
    assert made.json()["commit_sha"] == head and made.json()["trigger"] == "manual"
    busy = client.post("/api/v1/stacks/app/runs", headers=admin, json={"type": "proposed", "sha": head[:10]})
    assert busy.status_code == 409
    drain(platform)
    again = client.post("/api/v1/stacks/app/runs", headers=admin, json={"type": "proposed", "sha": head[:10]})
    assert again.status_code == 201
    drain(platform)
    listed = client.get("/api/v1/stacks/app/runs", headers=admin).json()["items"]
    assert [r["state"] for r in listed] == ["finished", "finished"]
    assert client.post("/api/v1/stacks/app/runs", headers=admin, json={"type": "test"}).status_code == 400
    missing = client.post("/api/v1/stacks/app/runs", headers=admin, json={"type": "tracked", "sha": "abcdef1"})
    assert missing.status_code == 400 and "could not find" in missing.json()["detail"]


def test_cancel_of_a_queued_run_and_log_lines_paging(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    commands_stack(client, admin, base_url, tmp_path / "applied.txt")
    double.push("infra/live", branch="main", files={"app/main.sh": "echo 7\n"})
    replay(client, double)
    with platform.sessions() as session:
        from sqlalchemy import select

        from stackyard.storage.tables import Delivery
        assert session.scalar(select(Delivery.state)) == "received"
    # Let delivery processing create the run but cancel it before its own task executes.
    task = platform.huey.dequeue()
    platform.huey.execute(task)
    [run] = run_rows(platform)
    assert run.state == "queued"
    assert client.post(f"/api/v1/runs/{run.id}/cancel", headers=admin).json()["state"] == "canceled"
    drain(platform)
    assert run_rows(platform)[0].state == "canceled"
    assert client.post(f"/api/v1/runs/{run.id}/cancel", headers=admin).status_code == 409
    page = client.get(f"/api/v1/runs/{run.id}/log-lines", headers=admin).json()
    assert page == {"state": "canceled", "done": True, "lines": []}
    assert client.get("/api/v1/runs/999999", headers=admin).status_code == 404


def test_run_environment_holds_no_stackyard_settings_or_tokens(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="envy", project_root="app", vendor="commands",
              environment={"REGION": "eu-west-1"}, secrets={"DB_PASSWORD": "hunter2-secret-value"},
              commands={"plan": ["env | sort", "echo pw=$DB_PASSWORD"], "apply": ["true"]})
    double.push("infra/live", branch="feature", files={"app/main.sh": "echo 8\n"})
    replay(client, double)
    drain(platform)
    [run] = run_rows(platform)
    assert run.state == "finished"
    logs = client.get(f"/api/v1/runs/{run.id}/logs", headers=admin).text
    names = {line.split("=", 1)[0] for line in logs.splitlines() if "=" in line and not line.startswith("$")}
    own = {n for n in names if n.startswith("STACKYARD_")}
    assert own == {"STACKYARD_RUN_ID", "STACKYARD_RUN_TYPE", "STACKYARD_STACK", "STACKYARD_COMMIT_SHA",
                   "STACKYARD_REF", "STACKYARD_PLAN_SUMMARY"}
    assert "REGION" in names and "DB_PASSWORD" in names
    assert "hunter2-secret-value" not in logs
    assert "pw=***" in logs and "DB_PASSWORD=***" in logs
    assert "glpat-" not in logs
    key = (platform.settings.data_dir / "secret.key").read_text().strip()
    assert key and key not in logs
    body = json.dumps(client.get(f"/api/v1/runs/{run.id}", headers=admin).json())
    assert "hunter2" not in body


def test_merge_request_from_a_fork_starts_nothing_and_says_why(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    applied = tmp_path / "applied.txt"
    commands_stack(client, admin, base_url, applied)
    double.fork_project("infra/live", "mallory/live")
    double.push("mallory/live", branch="evil", files={"app/main.sh": f"touch {applied}\n"}, deliver=False)
    double.open_merge_request("infra/live", source_branch="evil", target_branch="main", title="t",
                              source_project="mallory/live")
    replay(client, double)
    drain(platform)
    [run] = run_rows(platform)
    assert (run.state, run.reason, run.from_fork) == ("canceled", "merge requests from forks do not run on this stack",
                                                      True)
    assert run.started_at is None and not applied.exists()
    logs = client.get(f"/api/v1/runs/{run.id}/logs", headers=admin).text
    assert logs == ""
