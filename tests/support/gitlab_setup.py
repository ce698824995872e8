"""A GitLab double with one project, an integration pointing at it, and stacks on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.storage.tables import Run

TOKEN = "glpat-flowtoken-0123456789"
PROJECT = "infra/live"


@contextmanager
def gitlab_with_project(files: dict[str, str]) -> Iterator[tuple[GitLabDouble, str]]:
    double = GitLabDouble()
    double.add_user(username="stackyard-bot", token=TOKEN, scopes=("api",), expires_at=None)
    double.add_project(path=PROJECT, default_branch="main", files=files)
    with serve_double(double) as base_url:
        yield double, base_url


def add_integration(client: TestClient, admin: dict[str, str], base_url: str) -> None:
    body = {"kind": "gitlab", "name": "gl", "api_url": base_url, "token": TOKEN}
    response = client.post("/api/v1/integrations", headers=admin, json=body)
    assert response.status_code == 201, response.text


def add_stack(client: TestClient, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"integration": "gl", "repository": PROJECT, **fields}
    response = client.post("/api/v1/stacks", headers=admin, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def replay(client: TestClient, double: GitLabDouble, start: int = 0) -> list[int]:
    """The hook points at the public URL, not at this test client: hand GitLab's requests over as sent."""
    statuses = []
    for delivery in double.deliveries[start:]:
        path = "/webhooks/gitlab/gl"
        assert delivery.url.endswith(path)
        statuses.append(client.post(path, content=delivery.body, headers=delivery.headers).status_code)
    return statuses


def run_rows(platform: Platform) -> list[Run]:
    with platform.sessions() as session:
        rows = list(session.scalars(select(Run).order_by(Run.id)))
        session.expunge_all()
        return rows
