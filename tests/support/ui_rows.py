"""Rows for page tests (integrations, stacks, modules, runs, log lines, GitLab updates), written to the database.

Pages only read these tables, so building them directly keeps page tests free of GitLab; actions
still go through the real services.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from stackyard.bootstrap import Platform, create_app
from stackyard.services.integrations import create_integration
from stackyard.storage.tables import Delivery, DeliveryRun, Feedback, Run, RunLogLine, Stack

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_integration(platform: Platform, name: str = "gl", api_url: str = "https://gitlab.example.com") -> int:
    return create_integration(platform, name=name, kind="gitlab", api_url=api_url, token="glpat-page-test").id


def add_stack(
    platform: Platform,
    *,
    name: str,
    integration_id: int,
    kind: str = "stack",
    environment: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    namespace: str | None = None,
    provider: str | None = None,
) -> int:
    with platform.sessions.begin() as session:
        row = Stack(
            name=name, kind=kind, integration_id=integration_id, repository="infra/live", project_id=7,
            branch="main", project_root=name, vendor="commands", commands={"plan": ["./plan.sh"]},
            environment=environment or {}, secret_names=sorted(secrets or {}),
            secrets_encrypted=platform.box.encrypt(json.dumps(secrets)) if secrets else None,
            install_webhook=False, namespace=namespace, provider=provider,
        )
        session.add(row)
        session.flush()
        return row.id


def add_run(
    platform: Platform,
    *,
    stack_id: int,
    state: str = "planning",
    run_type: str = "tracked",
    sha: str = "a" * 40,
    summary: tuple[int, int, int] | None = None,
    plan_text: str | None = None,
    reason: str | None = None,
) -> int:
    with platform.sessions.begin() as session:
        row = Run(
            stack_id=stack_id, type=run_type, state=state, trigger="push", commit_sha=sha, ref="main",
            plan_text=plan_text, reason=reason,
        )
        if summary is not None:
            row.summary_add, row.summary_change, row.summary_destroy = summary
        session.add(row)
        session.flush()
        return row.id


def add_log_lines(platform: Platform, run_id: int, lines: list[str], *, stream: str = "out") -> None:
    """Appends after the run's last line, as RunLogWriter would."""
    with platform.sessions.begin() as session:
        last = session.scalar(select(func.max(RunLogLine.seq)).where(RunLogLine.run_id == run_id)) or 0
        session.add_all(
            RunLogLine(run_id=run_id, seq=last + i, stream=stream, line=line) for i, line in enumerate(lines, 1)
        )


def add_feedback(platform: Platform, run_id: int, kind: str, payload: dict[str, Any], **fields: Any) -> None:
    """An outbox item of the run, as the services write it; `fields` set its state, attempts, result."""
    with platform.sessions.begin() as session:
        run = session.get_one(Run, run_id)
        session.add(Feedback(stack_id=run.stack_id, run_id=run_id, kind=kind, channel=f"{kind}:{run.stack_id}:x:main",
                             payload=payload, **fields))


def add_delivery(platform: Platform, *, integration_id: int, event: str, outcome: str, run_ids: list[int]) -> int:
    with platform.sessions.begin() as session:
        row = Delivery(integration_id=integration_id, event=event, idempotency_key=f"key-{event}-{outcome}",
                       body=b"{}", state="processed", outcome=outcome)
        session.add(row)
        session.flush()
        session.add_all(DeliveryRun(delivery_id=row.id, run_id=run_id) for run_id in run_ids)
        return row.id


def run_state(platform: Platform, run_id: int) -> str:
    with platform.sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run.state


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str, *, next_path: str = "/") -> Response:
    """Signs in through the form as a browser would: fetch it (CSRF cookie + field), then post it."""
    form = client.get("/login", params={"next": next_path})
    assert form.status_code == 200
    return client.post("/login", data={"token": token, "next": next_path, "csrf_token": csrf_of(form.text)},
                       follow_redirects=False)


@contextmanager
def signed_in_client(platform: Platform, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as client:
        answer = sign_in(client, token)
        assert answer.status_code == 303, answer.text
        yield client
