"""`stackyard run …` against a real server: trigger, list, show, logs, confirm, cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stackyard.bootstrap import Platform
from stackyard.cli.main import app
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import add_integration, gitlab_with_project
from support.queue import drain


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"app/main.sh": "echo 0\n"}) as found:
        yield found


def test_run_commands(cli: CliRunner, client: TestClient, admin: dict[str, str], platform: Platform,
                      gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    created = cli.invoke(app, ["stack", "create", "--name", "app", "--integration", "gl", "--repository",
                               "infra/live", "--project-root", "app", "--vendor", "commands", "--no-install-webhook",
                               "--plan", "echo hello from the plan", "--apply", "echo applying",
                               "--report-untouched", "--time-limit", "600"])
    assert created.exit_code == 0, created.output
    stack = json.loads(created.output)
    assert (stack["report_untouched"], stack["time_limit"], stack["install_webhook"]) == (True, 600, False)
    head = double.push("infra/live", branch="main", files={"app/main.sh": "echo 1\n"}, deliver=False)

    made = cli.invoke(app, ["run", "trigger", "app"])
    assert made.exit_code == 0, made.output
    run = json.loads(made.output)
    assert (run["commit_sha"], run["type"], run["trigger"]) == (head, "tracked", "manual")
    drain(platform)

    listed = cli.invoke(app, ["run", "list", "--stack", "app"])
    assert [r["state"] for r in json.loads(listed.output)] == ["unconfirmed"]
    logs = cli.invoke(app, ["run", "logs", str(run["id"]), "--follow"])
    assert logs.exit_code == 0 and "hello from the plan" in logs.output
    confirmed = cli.invoke(app, ["run", "confirm", str(run["id"])])
    assert json.loads(confirmed.output)["state"] == "confirmed"
    drain(platform)
    assert json.loads(cli.invoke(app, ["run", "show", str(run["id"])]).output)["state"] == "finished"
    assert "applying" in cli.invoke(app, ["run", "logs", str(run["id"])]).output
    sent = json.loads(cli.invoke(app, ["stack", "feedback", "app", "--commit", head[:8]]).output)
    assert {(i["run"], i["commit"]) for i in sent} == {(run["id"], head)}
    assert next(i["update"]["state"] for i in sent if i["kind"] == "status") == "success"
    assert json.loads(cli.invoke(app, ["stack", "feedback", "app", "--commit", "0" * 40]).output) == []

    refused = cli.invoke(app, ["run", "cancel", str(run["id"])])
    assert refused.exit_code == 1 and "already finished" in refused.output
    missing = cli.invoke(app, ["run", "show", "424242"])
    assert missing.exit_code == 1 and "error 404" in missing.output
