"""Token health on the integration: expiry within 30 days and a token GitLab refuses show as problems to act on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.services.integrations import describe_integration, get_integration
from stackyard.services.token_health import note_token_failure
from stackyard.storage.tables import Integration

TOKEN = "glpat-health"


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    double = GitLabDouble()
    double.add_user(username="stackyard-bot", token=TOKEN, scopes=("api",), expires_at=None)
    double.add_project(path="infra/live", default_branch="main", files={"main.tf": "# main\n"})
    with serve_double(double) as base_url:
        yield double, base_url


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def link(client: TestClient, admin: dict[str, str], base_url: str, token: str = TOKEN) -> None:
    body = {"kind": "gitlab", "name": "gl", "api_url": base_url, "token": token}
    assert client.post("/api/v1/integrations", headers=admin, json=body).status_code == 201


def test_token_expiring_within_30_days_is_flagged(client: TestClient, admin: dict[str, str], reader: dict[str, str],
                                                  gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    double.add_token("stackyard-bot", "glpat-soon", expires_at=in_days(10))
    link(client, admin, base_url, token="glpat-soon")
    check = client.post("/api/v1/integrations/gl/check", headers=admin).json()
    assert check["ok"] is True
    shown = client.get("/api/v1/integrations/gl", headers=reader).json()
    assert (shown["token_expiring"], shown["token_expires_in_days"]) == (True, 10)
    assert any("expires on" in p and "in 10 days" in p and "integration update gl" in p for p in shown["problems"])


def test_expiry_warning_appears_30_days_before_even_if_checked_earlier(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    double.add_token("stackyard-bot", "glpat-later", expires_at=in_days(40))
    link(client, admin, base_url, token="glpat-later")
    client.post("/api/v1/integrations/gl/check", headers=admin)
    assert client.get("/api/v1/integrations/gl", headers=admin).json()["problems"] == []
    with platform.sessions() as session:
        row = get_integration(session, "gl")
    later = describe_integration(platform, row, admin=False, today=datetime.now(UTC).date() + timedelta(days=15))
    assert later["token_expiring"] is True
    assert any("in 25 days" in p for p in later["problems"])


def test_revoked_token_found_by_a_hook_repair_is_shown_and_a_new_token_clears_it(
    client: TestClient, admin: dict[str, str], gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    link(client, admin, base_url)
    stack = {"name": "live", "integration": "gl", "repository": "infra/live", "vendor": "commands",
             "commands": {"plan": ["true"]}}
    assert client.post("/api/v1/stacks", headers=admin, json=stack).status_code == 201
    double.revoke_token(TOKEN)
    repaired = client.post("/api/v1/integrations/gl/hooks/repair", headers=admin).json()["items"]
    assert repaired[0]["state"] == "failed" and "401" in repaired[0]["error"]
    shown = client.get("/api/v1/integrations/gl", headers=admin).json()
    assert shown["token_failing_since"] is not None
    assert "401" in shown["problems"][0] and "stackyard integration update gl --token -" in shown["problems"][0]
    double.add_token("stackyard-bot", "glpat-new")
    updated = client.patch("/api/v1/integrations/gl", headers=admin, json={"token": "glpat-new"}).json()
    assert updated["token_failing_since"] is None and updated["problems"] == []
    assert client.post("/api/v1/integrations/gl/hooks/repair", headers=admin).json()["items"][0]["state"] == "unchanged"


def test_a_successful_check_or_call_clears_the_mark(client: TestClient, admin: dict[str, str], platform: Platform,
                                                    gitlab: tuple[GitLabDouble, str]) -> None:
    _double, base_url = gitlab
    link(client, admin, base_url)
    with platform.sessions() as session:
        integration_id = session.scalars(select(Integration.id)).one()
    note_token_failure(platform, integration_id)
    assert client.get("/api/v1/integrations/gl", headers=admin).json()["token_failing_since"] is not None
    assert client.post("/api/v1/integrations/gl/check", headers=admin).json()["ok"] is True
    assert client.get("/api/v1/integrations/gl", headers=admin).json()["token_failing_since"] is None
    note_token_failure(platform, integration_id)
    stack = {"name": "live", "integration": "gl", "repository": "infra/live", "vendor": "commands",
             "commands": {"plan": ["true"]}}
    assert client.post("/api/v1/stacks", headers=admin, json=stack).status_code == 201  # installs the hook
    assert client.get("/api/v1/integrations/gl", headers=admin).json()["token_failing_since"] is None


def test_first_failure_time_is_kept(platform: Platform, client: TestClient, admin: dict[str, str]) -> None:
    body = {"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com", "token": "glpat-x"}
    assert client.post("/api/v1/integrations", headers=admin, json=body).status_code == 201
    with platform.sessions() as session:
        integration_id = session.scalars(select(Integration.id)).one()
    first = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    note_token_failure(platform, integration_id, at=first)
    note_token_failure(platform, integration_id)
    shown = client.get("/api/v1/integrations/gl", headers=admin).json()
    assert shown["token_failing_since"] == first.isoformat()
    assert "since 2026-01-02 03:04 UTC" in shown["problems"][0]
