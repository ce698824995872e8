"""Modules end to end: GitLab's Tag Push Hook in, a real test run, what GitLab receives back, and the
registry protocol as OpenTofu/Terraform use it (discovery, versions, download, the signed archive)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.core.modules import link_signature
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.settings import Settings
from support.gitlab_setup import PROJECT, add_integration, add_stack, gitlab_with_project, run_rows
from support.live_stackyard import serving, with_live_public_url
from support.queue import drain

MODULE_FILES = {
    "modules/net/main.tf": 'resource "null_resource" "net" {}\n',
    "modules/net/variables.tf": 'variable "cidr" {}\n',
    "modules/net/docs/usage.md": "# usage\n",
    "README.md": "not part of the module\n",
    "app/main.sh": "echo 0\n",
}
STATUS = "stackyard/module/network"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_live_public_url(settings)


@pytest.fixture
def gitlab(platform: Platform) -> Iterator[tuple[GitLabDouble, str]]:
    with serving(platform), gitlab_with_project(MODULE_FILES) as found:
        yield found


def create_module(client: TestClient, admin: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {
        "name": "network", "integration": "gl", "repository": PROJECT, "project_root": "modules/net",
        "namespace": "platform", "provider": "aws", "vendor": "commands",
        "commands": {"test": ["sh -c 'test -f main.tf'", "echo testing $STACKYARD_REF with $TOKEN"]},
        "secrets": {"TOKEN": "module-secret-value"}, **extra,
    }
    answer = client.post("/api/v1/modules", headers=admin, json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def module_statuses(double: GitLabDouble, sha: str) -> list[tuple[str, str, str]]:
    """(state, description, ref) of every status GitLab accepted for the module on this commit, in order."""
    return [
        (str(r.body["state"]), str(r.body.get("description")), str(r.body.get("ref")))
        for r in double.requests
        if r.method == "POST" and "/statuses/" in r.path and r.status == 201
        and r.body.get("name") == STATUS and r.path.endswith(sha)
    ]


def registry_versions(client: TestClient, headers: dict[str, str]) -> list[str]:
    answer = client.get("/api/registry/v1/modules/platform/network/aws/versions", headers=headers)
    assert answer.status_code == 200, answer.text
    [module] = answer.json()["modules"]
    return [v["version"] for v in module["versions"]]


def test_a_tag_is_tested_published_and_served_to_opentofu(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform,
    gitlab: tuple[GitLabDouble, str],
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    module = create_module(client, admin)
    host = urlsplit(platform.settings.public_url).netloc
    assert module["source"] == f"{host}/platform/network/aws"
    assert module["secrets"] == ["TOKEN"] and "module-secret-value" not in str(module)
    add_stack(client, admin, name="app", project_root="app", vendor="commands", commands={"plan": ["true"]})
    [hook] = double.hooks(PROJECT)  # one hook per project, shared by the module and the stack
    assert hook["tag_push_events"] and hook["push_events"]

    sha = double.push_tag(PROJECT, "v1.2.0", message="release 1.2.0")
    assert [d.status for d in double.deliveries] == [202]  # GitLab's own delivery, to the live server
    drain(platform)
    [run] = run_rows(platform)
    assert (run.type, run.trigger, run.ref, run.commit_sha, run.state) == ("test", "tag", "v1.2.0", sha, "finished")
    assert run.reason == "v1.2.0 published"
    assert module_statuses(double, sha)[-1] == ("success", "v1.2.0 published", "v1.2.0")
    assert not [r for r in double.requests if "/notes" in r.path or "/deployments" in r.path]
    logs = client.get(f"/api/v1/runs/{run.id}/logs", headers=reader).text
    assert "test -f main.tf" in logs and "testing v1.2.0 with ***" in logs
    assert "module-secret-value" not in logs

    versions = client.get("/api/v1/modules/network/versions", headers=reader).json()
    assert [(v["version"], v["commit_sha"], v["state"], v["run_id"]) for v in versions["items"]] == [
        ("1.2.0", sha, "published", run.id)
    ]
    assert versions["next"] is None and versions["items"][0]["published_at"]

    discovery = client.get("/.well-known/terraform.json")
    assert discovery.status_code == 200 and discovery.json() == {"modules.v1": "/api/registry/v1/modules/"}
    refused = client.get("/api/registry/v1/modules/platform/network/aws/versions")
    assert refused.status_code == 401
    assert registry_versions(client, reader) == ["1.2.0"]
    assert client.get("/api/registry/v1/modules/platform/network/gcp/versions", headers=reader).status_code == 404

    download = client.get("/api/registry/v1/modules/platform/network/aws/1.2.0/download", headers=reader)
    assert download.status_code == 204, download.text
    link = download.headers["X-Terraform-Get"]
    assert link.startswith(platform.settings.public_url) and urlsplit(link).path.endswith(".tar.gz")
    fetched = httpx.get(link)  # as go-getter does: no Authorization header
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/gzip"
    assert httpx.head(link).status_code == 200
    with tarfile.open(fileobj=io.BytesIO(fetched.content), mode="r:gz") as tar:
        files = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert files == {
        "main.tf": MODULE_FILES["modules/net/main.tf"],
        "variables.tf": MODULE_FILES["modules/net/variables.tf"],
        "docs/usage.md": MODULE_FILES["modules/net/docs/usage.md"],
    }

    query = parse_qs(urlsplit(link).query)
    tampered = link.replace(query["signature"][0], "0" * 64)
    assert httpx.get(tampered).status_code == 403
    path = urlsplit(link).path
    past = int(time.time()) - 1
    expired_signature = link_signature(platform.box.derive_key("module-download-links"), path=path, expires=past)
    expired = f"{platform.settings.public_url}{path}?expires={past}&signature={expired_signature}"
    assert httpx.get(expired).status_code == 403
    other_version = link.replace("1.2.0.tar.gz", "1.3.0.tar.gz")
    assert httpx.get(other_version).status_code == 403  # a signature is for one version only
    assert httpx.get(link.split("?")[0]).status_code == 403

    # Yanked: not listed, not served; the history stays.
    assert client.post("/api/v1/modules/network/versions/1.2.0/yank", headers=reader).status_code == 403
    yanked = client.post("/api/v1/modules/network/versions/1.2.0/yank", headers=admin)
    assert yanked.status_code == 200 and yanked.json()["state"] == "yanked"
    assert registry_versions(client, reader) == []
    gone = client.get("/api/registry/v1/modules/platform/network/aws/1.2.0/download", headers=reader)
    assert gone.status_code == 404
    assert httpx.get(link).status_code == 404
    assert client.get("/api/v1/modules/network/versions", headers=reader).json()["items"][0]["state"] == "yanked"
    assert client.post("/api/v1/modules/network/versions/v1.2.0/unyank", headers=admin).status_code == 200
    assert registry_versions(client, reader) == ["1.2.0"]


def test_failing_tests_publish_nothing_and_other_tags_start_nothing(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform,
    gitlab: tuple[GitLabDouble, str],
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    create_module(client, admin)
    broken = double.push(PROJECT, branch="main", files={"modules/net/main.tf": None}, deliver=False)
    double.push_tag(PROJECT, "v1.3.0", broken)
    double.push_tag(PROJECT, "release-candidate", broken)
    drain(platform)
    [run] = run_rows(platform)
    assert (run.ref, run.state, run.failed_during) == ("v1.3.0", "failed", "planning")
    assert module_statuses(double, broken)[-1] == (
        "failed", "test failed: the test exited with an error (see the log)", "v1.3.0")
    assert client.get("/api/v1/modules/network/versions", headers=reader).json()["items"] == []
    assert registry_versions(client, reader) == []
    deliveries = client.get("/api/v1/deliveries", headers=reader).json()["items"]
    assert any("not a semver version" in (d["outcome"] or "") for d in deliveries)


def test_a_published_version_is_never_replaced_and_a_tag_can_be_tested_again(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform,
    gitlab: tuple[GitLabDouble, str],
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    create_module(client, admin)
    first = double.push_tag(PROJECT, "v2.0.0")
    drain(platform)
    double.delete_tag(PROJECT, "v2.0.0")
    moved = double.push(PROJECT, branch="main", files={"modules/net/main.tf": "# changed\n"}, deliver=False)
    double.push_tag(PROJECT, "v2.0.0", moved)
    drain(platform)
    second = run_rows(platform)[-1]
    assert (second.commit_sha, second.state) == (moved, "finished")
    assert second.reason == f"tests passed; v2.0.0 was already published from {first[:8]} and is not replaced"
    [version] = client.get("/api/v1/modules/network/versions", headers=reader).json()["items"]
    assert version["commit_sha"] == first

    # By hand: the tag's commit comes from GitLab's Tags API; v2.1.0 was never pushed as a hook.
    double.push_tag(PROJECT, "v2.1.0", moved, deliver=False)
    answer = client.post("/api/v1/modules/network/runs", headers=admin, json={"tag": "v2.1.0"})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["module"], answer.json()["trigger"], answer.json()["commit_sha"]) == (
        "network", "manual", moved)
    drain(platform)
    assert run_rows(platform)[-1].reason == "v2.1.0 published"
    assert registry_versions(client, reader) == ["2.1.0", "2.0.0"]
    missing = client.post("/api/v1/modules/network/runs", headers=admin, json={"tag": "v9.9.9"})
    assert missing.status_code == 400 and "could not find tag v9.9.9" in missing.json()["detail"]
    not_semver = client.post("/api/v1/modules/network/runs", headers=admin, json={"tag": "latest"})
    assert not_semver.status_code == 400
    listed = client.get("/api/v1/modules/network/runs", headers=reader).json()["items"]
    assert [r["ref"] for r in listed] == ["v2.1.0", "v2.0.0", "v2.0.0"]


def test_gitlab_sees_the_test_run_as_it_goes(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path,
) -> None:
    """A worker sends feedback while the test runs: two FIFOs hold the test command until GitLab has
    seen `running` (no sleeps: opening a FIFO blocks until the other end is opened)."""
    double, base_url = gitlab
    started, go = tmp_path / "started", tmp_path / "go"
    os.mkfifo(started)
    os.mkfifo(go)
    add_integration(client, admin, base_url)
    create_module(client, admin, commands={"test": [f"echo started > {started}", f"read line < {go}"]})
    sha = double.push_tag(PROJECT, "v0.1.0")
    executing = run_feedback_alongside(platform)
    with open(started) as signal:  # the test command is running: the run is in `planning`
        assert signal.read() == "started\n"
    drain(platform)
    assert [s for s, _d, _r in module_statuses(double, sha)] == ["pending", "running"]
    with open(go, "w") as release:
        release.write("go\n")
    executing.join()
    drain(platform)
    assert module_statuses(double, sha) == [
        ("pending", "queued", "v0.1.0"), ("running", "preparing", "v0.1.0"), ("success", "v0.1.0 published", "v0.1.0"),
    ]


def run_feedback_alongside(platform: Platform) -> threading.Thread:
    """Runs queued tasks in this thread until the run is due, sends what GitLab should see by then
    (the queued status), and executes the run in a thread of its own."""
    huey = platform.huey
    while True:
        task = huey.dequeue()
        assert task is not None, "the queue emptied before the run started"
        if task.name == "execute_run":
            drain(platform)
            thread = threading.Thread(target=huey.execute, args=(task,), name="test-worker")
            thread.start()
            return thread
        huey.execute(task)


def test_a_release_candidate_and_its_release_on_one_commit_are_two_versions(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform,
    gitlab: tuple[GitLabDouble, str],
) -> None:
    double, base_url = gitlab
    add_integration(client, admin, base_url)
    create_module(client, admin)
    sha = double.push_tag(PROJECT, "v3.0.0-rc.1")
    double.push_tag(PROJECT, "v3.0.0", sha)
    assert double.resend(1).status == 200  # GitLab resending the release's delivery starts nothing new
    drain(platform)
    runs = run_rows(platform)
    assert [(r.ref, r.commit_sha, r.reason) for r in runs] == [
        ("v3.0.0-rc.1", sha, "v3.0.0-rc.1 published"), ("v3.0.0", sha, "v3.0.0 published"),
    ]
    assert registry_versions(client, reader) == ["3.0.0", "3.0.0-rc.1"]
    finals = [(d, ref) for s, d, ref in module_statuses(double, sha) if s == "success"]
    assert sorted(finals) == [("v3.0.0 published", "v3.0.0"), ("v3.0.0-rc.1 published", "v3.0.0-rc.1")]
