"""Stopping a run that is executing: a person's cancel kills its process group; a worker shutting
down hands a planning run back to the queue instead of losing it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.services.run_log import log_text
from stackyard.services.sweep import redispatch_waiting_runs
from stackyard.settings import Settings
from stackyard.storage.tables import Run
from support.gitlab_setup import add_integration, add_stack, gitlab_with_project, replay, run_rows
from support.queue import drain


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"heartbeat_interval": 0.05})


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"app/main.sh": "echo 0\n"}) as found:
        yield found


def wait_until(condition: Callable[[], bool], what: str, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def logged(platform: Platform, text: str) -> bool:
    with platform.sessions() as session:
        run_id = session.scalar(select(Run.id).order_by(Run.id.desc()))
        return run_id is not None and text in log_text(session, run_id)


def start_plan(client: TestClient, admin: dict[str, str], platform: Platform, double: GitLabDouble,
               base_url: str, pid_file: Path) -> threading.Thread:
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="app", project_root="app", vendor="commands",
              commands={"plan": [f"echo $$ > {pid_file}; echo started; exec tail -f /dev/null"],
                        "apply": ["true"]})
    double.push("infra/live", branch="main", files={"app/main.sh": "echo 1\n"})
    replay(client, double)
    worker = threading.Thread(target=drain, args=(platform,), daemon=True)
    worker.start()
    wait_until(lambda: logged(platform, "started"), "the plan to start")
    return worker


def test_cancel_kills_the_running_plan(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    pid_file = tmp_path / "pid"
    worker = start_plan(client, admin, platform, double, base_url, pid_file)
    [run] = run_rows(platform)
    answer = client.post(f"/api/v1/runs/{run.id}/cancel", headers=admin).json()
    assert answer["state"] == "planning" and answer["cancel_requested"] is True
    worker.join(60)
    assert not worker.is_alive()
    [run] = run_rows(platform)
    assert (run.state, run.failed_during, run.reason) == ("canceled", "planning", "plan canceled by a person")
    assert not Path(f"/proc/{int(pid_file.read_text())}").exists()  # the whole process group is gone


def test_shutdown_hands_a_planning_run_back_to_the_queue(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    worker = start_plan(client, admin, platform, double, base_url, tmp_path / "pid")
    platform.stopping.set()
    worker.join(60)
    assert not worker.is_alive()
    [run] = run_rows(platform)
    assert run.state == "queued" and run.worker_id is None
    assert logged(platform, "goes back to the queue")
    # The next worker plans it again (this time with a plan that ends).
    platform.stopping.clear()
    patch = {"commands": {"plan": ["echo second attempt"], "apply": ["true"]}}
    assert client.patch("/api/v1/stacks/app", headers=admin, json=patch).status_code == 200
    # The stopping worker took the follow-up message without starting it: the sweeper's redispatch
    # (once a minute, for runs queued longer than a minute) hands the run to the next worker.
    redispatch_waiting_runs(platform, older_than=timedelta(0))
    drain(platform)
    [run] = run_rows(platform)
    assert run.state == "unconfirmed"
    assert logged(platform, "second attempt")


def test_cancel_kills_a_module_test_and_publishes_nothing(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    pid_file = tmp_path / "pid"
    add_integration(client, admin, base_url)
    created = client.post("/api/v1/modules", headers=admin, json={
        "name": "app", "integration": "gl", "repository": "infra/live", "project_root": "app",
        "namespace": "platform", "provider": "aws", "vendor": "commands",
        "commands": {"test": [f"echo $$ > {pid_file}; echo started; exec tail -f /dev/null"]},
    })
    assert created.status_code == 201, created.text
    start = len(double.deliveries)
    double.push_tag("infra/live", "v1.0.0")
    replay(client, double, start)
    worker = threading.Thread(target=drain, args=(platform,), daemon=True)
    worker.start()
    wait_until(lambda: logged(platform, "started"), "the module test to start")
    [run] = run_rows(platform)
    assert client.post(f"/api/v1/runs/{run.id}/cancel", headers=admin).json()["cancel_requested"] is True
    worker.join(60)
    assert not worker.is_alive()
    [run] = run_rows(platform)
    assert (run.type, run.state, run.failed_during) == ("test", "canceled", "planning")
    assert not Path(f"/proc/{int(pid_file.read_text())}").exists()
    assert client.get("/api/v1/modules/app/versions", headers=admin).json()["items"] == []
