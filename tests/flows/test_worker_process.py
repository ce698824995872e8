"""A real `stackyard worker` process: tracked runs apply one at a time in commit order, and a
worker killed with SIGKILL mid-run leaves that run failed with a reason while the rest go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from stackyard.services.sweep import fail_dead_runs
from stackyard.settings import Settings
from stackyard.storage.tables import Run
from support.gitlab_setup import add_integration, add_stack, gitlab_with_project, run_rows
from support.live_stackyard import serving, with_live_public_url

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_live_public_url(settings)


@pytest.fixture
def gitlab(platform: Platform) -> Iterator[tuple[GitLabDouble, str]]:
    with (
        serving(platform),
        gitlab_with_project({"app/main.sh": "echo 0\n", "hang/main.sh": "echo 0\n"}) as found,
    ):
        yield found


def statuses(double: GitLabDouble, start: int = 0) -> list[int | None]:
    return [d.status for d in double.deliveries[start:]]


def start_worker(platform: Platform, log_file: Path) -> subprocess.Popen[bytes]:
    settings = platform.settings
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "STACKYARD_DATA_DIR": str(settings.data_dir),
        "STACKYARD_DATABASE_URL": settings.database_url,
        "STACKYARD_QUEUE_URL": settings.queue_url,
        "STACKYARD_QUEUE_NAME": settings.queue_name,
        "STACKYARD_HEARTBEAT_INTERVAL": "0.2",
        "STACKYARD_WORKER_THREADS": "4",
    }
    stackyard = Path(sys.executable).parent / "stackyard"
    with log_file.open("ab") as out:
        return subprocess.Popen([str(stackyard), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until(condition: Callable[[], bool], what: str | Callable[[], str], *, seconds: float = 90) -> None:
    """Waits for a condition the worker process brings about (bounded; the bound is not what is tested)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what if isinstance(what, str) else what()}")
        time.sleep(0.05)


def states(platform: Platform) -> list[str]:
    return [r.state for r in run_rows(platform)]


def test_tracked_runs_apply_in_order_and_a_killed_worker_fails_only_its_run(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    order, lock = tmp_path / "order.txt", tmp_path / "apply.lock"
    add_integration(client, admin, base_url)
    # The apply takes a lock directory: a second apply running at the same time would find it taken.
    apply = (f"mkdir {lock} || {{ echo OVERLAP >> {order}; exit 1; }}; echo $STACKYARD_COMMIT_SHA >> {order}; "
             f"sleep 0.2; rmdir {lock}")
    add_stack(client, admin, name="app", project_root="app", vendor="commands", autodeploy=True,
              commands={"plan": ["echo plan"], "apply": [apply]})
    add_stack(client, admin, name="hang", project_root="hang", vendor="commands", autodeploy=True,
              commands={"plan": ["echo started", "exec tail -f /dev/null"], "apply": [f"echo APPLIED >> {order}"]})
    worker_log = tmp_path / "worker.log"
    worker = start_worker(platform, worker_log)
    try:
        shas = [double.push("infra/live", branch="main", files={"app/main.sh": f"echo v{i}\n"}) for i in range(5)]
        assert statuses(double) == [202] * 5
        wait_until(lambda: states(platform) == ["finished"] * 5,
                   lambda: f"five tracked runs to finish: {states(platform)}")
        assert order.read_text().split() == shas

        # A run that never ends on its own; the worker is killed while it plans.
        double.push("infra/live", branch="main", files={"hang/main.sh": "echo 1\n"})

        def hang_started() -> bool:
            with platform.sessions() as session:
                run_id = session.scalar(select(Run.id).where(Run.state == "planning"))
                return run_id is not None and "started" in log_text(session, run_id)

        wait_until(hang_started, "the hanging plan to start")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # Work acknowledged while no worker runs is kept, and done by the next worker.
        later = double.push("infra/live", branch="main", files={"app/main.sh": "echo 9\n"})
        assert statuses(double, 5) == [202, 202]
        # The heartbeat check is what the sweeper runs each minute; the worker is certainly dead now.
        [dead] = fail_dead_runs(platform, silent_for=timedelta(0))
        worker = start_worker(platform, worker_log)
        wait_until(lambda: states(platform)[-1] == "finished", "the next run to finish after the restart")
    finally:
        worker.kill()
        worker.wait()
    rows = run_rows(platform)
    hung = next(r for r in rows if r.id == dead)
    assert hung.state == "failed" and hung.failed_during == "planning"
    assert hung.reason is not None and "stopped while planning" in hung.reason and "no heartbeat" in hung.reason
    assert rows[-1].commit_sha == later
    assert order.read_text().split() == [*shas, later]  # never applied twice, never the dead run's apply
