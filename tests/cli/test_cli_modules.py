"""`stackyard module …` against a real server: create, test a tag, list versions, yank."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stackyard.bootstrap import Platform
from stackyard.cli.main import app
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import PROJECT, add_integration, gitlab_with_project
from support.queue import drain


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project({"modules/dns/main.tf": "# dns\n"}) as found:
        yield found


def test_module_commands(cli: CliRunner, client: TestClient, admin: dict[str, str], platform: Platform,
                         gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    assert "module" in cli.invoke(app, ["--help"]).output

    created = cli.invoke(app, ["module", "create", "--name", "dns", "--integration", "gl", "--repository", PROJECT,
                               "--namespace", "platform", "--provider", "aws", "--project-root", "modules/dns",
                               "--vendor", "commands", "--test", "test -f main.tf", "--secret", "KEY=v4lue",
                               "--no-install-webhook"])
    assert created.exit_code == 0, created.output
    module = json.loads(created.output)
    assert module["commands"] == {"test": ["test -f main.tf"]} and module["secrets"] == ["KEY"]
    assert module["source"].endswith("/platform/dns/aws")
    refused = cli.invoke(app, ["module", "create", "--name", "bad", "--integration", "gl", "--repository", PROJECT,
                               "--namespace", "platform", "--provider", "AWS"])
    assert refused.exit_code == 1 and "error 400" in refused.output and "lowercase" in refused.output

    sha = double.push_tag(PROJECT, "v0.3.0", deliver=False)
    tested = cli.invoke(app, ["module", "test", "dns", "--tag", "v0.3.0"])
    assert tested.exit_code == 0, tested.output
    assert (json.loads(tested.output)["commit_sha"], json.loads(tested.output)["type"]) == (sha, "test")
    drain(platform)

    sent = json.loads(cli.invoke(app, ["module", "feedback", "dns", "--commit", sha[:10]]).output)
    newest = sent[0]
    assert (newest["kind"], newest["update"]["state"], newest["update"]["description"]) == (
        "status", "success", "v0.3.0 published")
    assert {i["commit"] for i in sent} == {sha}
    assert "error 404" in cli.invoke(app, ["stack", "feedback", "dns"]).output  # a module is not a stack
    listed = cli.invoke(app, ["module", "versions", "dns"])
    assert [(v["version"], v["commit_sha"], v["state"]) for v in json.loads(listed.output)] == [
        ("0.3.0", sha, "published")]
    yanked = cli.invoke(app, ["module", "yank", "dns", "0.3.0"])
    assert json.loads(yanked.output)["state"] == "yanked"
    assert json.loads(cli.invoke(app, ["module", "unyank", "dns", "v0.3.0"]).output)["state"] == "published"
    assert [m["name"] for m in json.loads(cli.invoke(app, ["module", "list"]).output)] == ["dns"]
    assert json.loads(cli.invoke(app, ["module", "show", "dns"]).output)["namespace"] == "platform"
    assert cli.invoke(app, ["module", "delete", "dns"]).output.strip() == "deleted module dns"
    missing = cli.invoke(app, ["module", "versions", "dns"])
    assert missing.exit_code == 1 and "error 404" in missing.output
