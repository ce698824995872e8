"""`stackyard integration|stack|delivery …` against a real server: lists print their items; every command has help."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stackyard.cli.main import app
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import PROJECT, add_integration, gitlab_with_project


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"app/main.tf": "# v1\n"}) as found:
        yield found


def test_integrations_stacks_and_deliveries(cli: CliRunner, client: TestClient, admin: dict[str, str],
                                            gitlab: tuple[GitLabDouble, str]) -> None:
    _, base_url = gitlab
    add_integration(client, admin, base_url)
    [integration] = json.loads(cli.invoke(app, ["integration", "list"]).output)
    assert integration["name"] == "gl" and "token" not in integration
    for name in ("app", "web"):
        made = cli.invoke(app, ["stack", "create", "--name", name, "--integration", "gl", "--repository", PROJECT,
                                "--project-root", name, "--secret", "KEY=hunter2"])
        assert made.exit_code == 0, made.output
    assert [s["name"] for s in json.loads(cli.invoke(app, ["stack", "list"]).output)] == ["web", "app"]
    assert [s["name"] for s in json.loads(cli.invoke(app, ["stack", "list", "--limit", "1"]).output)] == ["web"]
    shown = cli.invoke(app, ["stack", "show", "app"])
    assert json.loads(shown.output)["secrets"] == ["KEY"] and "hunter2" not in shown.output

    refused = cli.invoke(app, ["integration", "delete", "gl"])
    assert refused.exit_code == 1 and "still has stacks" in refused.output
    secret = client.get("/api/v1/integrations/gl", headers=admin).json()["webhook_secret"]
    pushed = client.post("/webhooks/gitlab/gl", json={"object_kind": "push"},
                         headers={"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"})
    assert pushed.status_code == 202
    [delivery] = json.loads(cli.invoke(app, ["delivery", "list"]).output)
    assert delivery["event"] == "Push Hook"

    assert cli.invoke(app, ["stack", "delete", "web"]).output.strip() == "deleted stack web"
    assert [s["name"] for s in json.loads(cli.invoke(app, ["stack", "list"]).output)] == ["app"]
    missing = cli.invoke(app, ["stack", "show", "web"])
    assert missing.exit_code == 1 and "error 404" in missing.output


def test_every_command_says_what_it_does() -> None:
    groups = typer.main.get_group(app).commands
    for group in ("integration", "stack", "delivery", "run", "module"):
        for name, command in groups[group].commands.items():  # type: ignore[attr-defined]
            assert (command.help or "").strip(), f"stackyard {group} {name} has no help"


@pytest.mark.parametrize("token", ["", "  "])
def test_an_empty_token_is_named_as_the_problem(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("STACKYARD_TOKEN", token)
    result = cli.invoke(app, ["stack", "list"])
    assert result.exit_code == 2
    assert "set STACKYARD_TOKEN" in result.output
