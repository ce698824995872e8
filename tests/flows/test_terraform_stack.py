"""A real Terraform (or OpenTofu) stack end to end: GitLab's webhooks in, real `init`/`plan`/`apply` in the
workspace, and the summary GitLab shows. `terraform_data` is built into the tool, so nothing is downloaded;
the state lives in a local backend outside the workspace, as a remote backend would keep it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.settings import Settings
from support.gitlab_setup import PROJECT, add_integration, add_stack, gitlab_with_project, run_rows
from support.live_stackyard import serving, with_live_public_url
from support.queue import drain

TOOLS = "/usr/local/bin:/usr/bin:/bin"
VENDOR, TOOL = next(
    ((vendor, found) for vendor, name in (("opentofu", "tofu"), ("terraform", "terraform"))
     if (found := shutil.which(name, path=TOOLS))),
    ("terraform", None),
)
pytestmark = pytest.mark.skipif(TOOL is None, reason="neither tofu nor terraform is on this machine")


def config(state: Path, size: str, *, extra: bool = False) -> dict[str, str]:
    main = (
        f'terraform {{\n  backend "local" {{\n    path = "{state}"\n  }}\n}}\n'
        f'variable "size" {{\n  default = "{size}"\n}}\n'
        'resource "terraform_data" "web" {\n  input = var.size\n}\n'
    )
    if extra:
        main += 'resource "terraform_data" "cache" {\n  input = "redis"\n}\n'
    return {"infra/main.tf": main}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "terraform.tfstate"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_live_public_url(settings)


@pytest.fixture
def gitlab(platform: Platform) -> Iterator[tuple[GitLabDouble, str]]:
    with serving(platform), gitlab_with_project({"README.md": "infra\n"}) as found:
        yield found


def applied(state: Path) -> dict[str, object]:
    """What the state says each resource was given: the proof of what `apply` did."""
    resources = json.loads(state.read_text())["resources"]
    return {r["name"]: r["instances"][0]["attributes"]["input"]["value"] for r in resources}


def statuses(double: GitLabDouble, sha: str) -> list[tuple[str, str]]:
    return [(str(s["status"]), str(s["description"])) for s in double.statuses(PROJECT) if s["sha"] == sha]


def test_terraform_stack_plans_applies_and_reports_real_summaries(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], state: Path
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="web", project_root="infra", vendor=VENDOR, autodeploy=True)

    first = double.push(PROJECT, branch="main", files=config(state, "small"))
    drain(platform)
    [created] = run_rows(platform)
    assert (created.type, created.state) == ("tracked", "finished"), created.reason
    assert (created.summary_add, created.summary_change, created.summary_destroy) == (1, 0, 0)
    assert statuses(double, first)[-1] == ("success", "+1 ~0 -0 applied")
    assert applied(state) == {"web": "small"}

    change = double.push(PROJECT, branch="bigger", files=config(state, "large", extra=True))
    double.open_merge_request(PROJECT, source_branch="bigger", target_branch="main", title="bigger")
    drain(platform)
    proposed = run_rows(platform)[-1]
    assert (proposed.type, proposed.state, proposed.commit_sha) == ("proposed", "finished", change)
    assert (proposed.summary_add, proposed.summary_change, proposed.summary_destroy) == (1, 1, 0)
    assert statuses(double, change)[-1] == ("success", "+1 ~1 -0 would add 1 and change 1 resources")
    [comment] = [n for n in double.notes(PROJECT, 1) if not n["system"]]
    assert str(comment["body"]).startswith("<!-- stackyard:web -->")
    assert "terraform_data.cache will be created" in str(comment["body"])
    assert applied(state) == {"web": "small"}  # a proposed run only plans

    merged = double.merge_merge_request(PROJECT, 1)
    drain(platform)
    tracked = run_rows(platform)[-1]
    assert (tracked.type, tracked.state, tracked.commit_sha) == ("tracked", "finished", merged), tracked.reason
    assert applied(state) == {"web": "large", "cache": "redis"}
    assert [(d["sha"], d["status"]) for d in double.deployments(PROJECT)] == [(first, "success"), (merged, "success")]
