"""A module bigger than STACKYARD_MODULE_ARCHIVE_LIMIT fails its test run, says why, and publishes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.settings import Settings
from support.gitlab_setup import PROJECT, add_integration, gitlab_with_project, run_rows
from support.live_stackyard import serving, with_live_public_url
from support.queue import drain


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_live_public_url(settings).model_copy(update={"module_archive_limit": 4096})


@pytest.fixture
def gitlab(platform: Platform) -> Iterator[tuple[GitLabDouble, str]]:
    with serving(platform), gitlab_with_project({"mod/main.tf": "# " + "x" * 20_000 + "\n"}) as found:
        yield found


def test_an_oversized_module_fails_and_publishes_nothing(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    created = client.post("/api/v1/modules", headers=admin, json={
        "name": "big", "integration": "gl", "repository": PROJECT, "project_root": "mod", "namespace": "platform",
        "provider": "aws", "vendor": "commands", "commands": {"test": ["true"]}, "environment": {}, "secrets": {},
        "install_webhook": True,
    })
    assert created.status_code == 201, created.text
    double.push_tag(PROJECT, "v1.0.0")
    assert [d.status for d in double.deliveries] == [202]
    drain(platform)
    [run] = run_rows(platform)
    assert (run.state, run.failed_during) == ("failed", "planning")
    assert run.reason == (
        "the module's files are larger than the limit of 4096 bytes (STACKYARD_MODULE_ARCHIVE_LIMIT)")
    assert client.get("/api/v1/modules/big/versions", headers=admin).json()["items"] == []
