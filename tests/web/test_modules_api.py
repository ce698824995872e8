"""The modules API: what it stores, what it refuses (storing nothing), and what it never shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.storage.tables import Stack
from support.gitlab_setup import PROJECT, add_integration, gitlab_with_project

SECRET = "hunter2-module-secret"


@pytest.fixture
def gitlab(client: TestClient, admin: dict[str, str]) -> Iterator[GitLabDouble]:
    with gitlab_with_project({"modules/vpc/main.tf": "# vpc\n"}) as (double, base_url):
        add_integration(client, admin, base_url)
        yield double


def body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "vpc", "integration": "gl", "repository": PROJECT, "project_root": "modules/vpc",
        "namespace": "platform", "provider": "aws", "vendor": "opentofu", "commands": {},
        "environment": {"TF_VAR_region": "eu-west-1"}, "secrets": {"AWS_SECRET_ACCESS_KEY": SECRET},
        "install_webhook": False, **fields,
    }


def stored(platform: Platform) -> int:
    with platform.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Stack).where(Stack.kind == "module")) or 0)


def test_create_read_list_change_delete(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform, gitlab: GitLabDouble
) -> None:
    created = client.post("/api/v1/modules", headers=admin, json=body())
    assert created.status_code == 201, created.text
    module = created.json()
    assert module["source"] == "127.0.0.1:8080/platform/vpc/aws"
    assert (module["namespace"], module["provider"], module["vendor"], module["project_root"]) == (
        "platform", "aws", "opentofu", "modules/vpc")
    assert module["secrets"] == ["AWS_SECRET_ACCESS_KEY"]
    assert gitlab.hooks(PROJECT) == []  # install_webhook false

    shown = client.get("/api/v1/modules/vpc", headers=reader)
    assert shown.status_code == 200 and shown.json()["source"] == module["source"]
    listed = client.get("/api/v1/modules", headers=reader).json()
    assert [m["name"] for m in listed["items"]] == ["vpc"] and listed["next"] is None
    assert client.get("/api/v1/stacks", headers=reader).json()["items"] == []  # modules are not stacks
    assert client.get("/api/v1/stacks/vpc", headers=reader).status_code == 404

    changed = client.patch("/api/v1/modules/vpc", headers=admin,
                           json={"provider": "azurerm", "secrets": {"EXTRA": "two"}, "vendor": "terraform"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["source"] == "127.0.0.1:8080/platform/vpc/azurerm"
    assert changed.json()["secrets"] == ["AWS_SECRET_ACCESS_KEY", "EXTRA"]
    assert changed.json()["vendor"] == "terraform"
    for answer in (created, shown, changed, client.get("/api/v1/modules", headers=admin)):
        assert SECRET not in answer.text and "two" not in str(answer.json().get("secrets"))

    assert client.get("/api/v1/modules/vpc/versions", headers=reader).json() == {"items": [], "next": None}
    assert client.get("/api/v1/modules/vpc/runs", headers=reader).json() == {"items": [], "next": None}
    assert client.delete("/api/v1/modules/vpc", headers=admin).status_code == 204
    assert client.get("/api/v1/modules/vpc", headers=reader).status_code == 404
    assert stored(platform) == 0


def test_creating_a_module_installs_the_project_hook_once(
    client: TestClient, admin: dict[str, str], gitlab: GitLabDouble
) -> None:
    assert client.post("/api/v1/modules", headers=admin, json=body(install_webhook=True)).status_code == 201
    assert client.post("/api/v1/modules", headers=admin,
                       json=body(name="subnet", install_webhook=True)).status_code == 201
    [hook] = gitlab.hooks(PROJECT)
    assert hook["tag_push_events"] and hook["enable_ssl_verification"]


@pytest.mark.parametrize(("fields", "words"), [
    ({"namespace": "-platform"}, "namespace '-platform' is not a valid registry namespace"),
    ({"namespace": "plat form"}, "namespace 'plat form'"),
    ({"name": "vpc.v2"}, "name 'vpc.v2' is not a valid registry name"),
    ({"provider": "AWS"}, "provider 'AWS' is not a valid registry provider: 1 to 64 lowercase"),
    ({"provider": "aws-eu"}, "provider 'aws-eu'"),
    ({"vendor": "ansible"}, "a module's vendor must be one of opentofu, terraform, commands"),
    ({"vendor": "commands"}, "a 'commands' module needs commands.test"),
    ({"vendor": "commands", "commands": {"plan": ["true"], "test": ["true"]}}, "a module only has commands.test"),
    ({"commands": {"test": ["true"]}}, "commands.test is for the 'commands' vendor"),
    ({"secrets": {"PATH": "x"}}, "secret variable 'PATH' is reserved"),
    ({"project_root": "../elsewhere"}, "project_root must stay inside the repository"),
    ({"integration": "nope"}, "nope"),
    ({"repository": "no/such-project"}, "GitLab project 'no/such-project'"),
])
def test_invalid_modules_are_refused_and_nothing_is_stored(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: GitLabDouble,
    fields: dict[str, Any], words: str,
) -> None:
    answer = client.post("/api/v1/modules", headers=admin, json=body(**fields))
    assert 400 <= answer.status_code < 500, answer.text
    assert words in answer.json()["detail"]
    assert stored(platform) == 0


def test_fields_outside_the_spec_and_missing_ones_answer_422(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: GitLabDouble
) -> None:
    assert client.post("/api/v1/modules", headers=admin, json=body(branch="main")).status_code == 422
    without = body()
    del without["namespace"]
    assert client.post("/api/v1/modules", headers=admin, json=without).status_code == 422
    assert stored(platform) == 0


def test_names_are_shared_with_stacks_and_changes_are_checked(
    client: TestClient, admin: dict[str, str], gitlab: GitLabDouble
) -> None:
    assert client.post("/api/v1/modules", headers=admin, json=body()).status_code == 201
    again = client.post("/api/v1/modules", headers=admin, json=body())
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    bad = client.patch("/api/v1/modules/vpc", headers=admin, json={"vendor": "commands"})
    assert bad.status_code == 400 and "needs commands.test" in bad.json()["detail"]
    bad_provider = client.patch("/api/v1/modules/vpc", headers=admin, json={"provider": "Azure"})
    assert bad_provider.status_code == 400
    assert client.get("/api/v1/modules/vpc", headers=admin).json()["provider"] == "aws"
    assert client.patch("/api/v1/modules/vpc", headers=admin, json={"name": "x"}).status_code == 422


def test_readers_read_but_never_write(
    client: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform, gitlab: GitLabDouble
) -> None:
    assert client.post("/api/v1/modules", headers=reader, json=body()).status_code == 403
    assert stored(platform) == 0
    assert client.post("/api/v1/modules", headers=admin, json=body()).status_code == 201
    for method, path, payload in [
        ("PATCH", "/api/v1/modules/vpc", {"provider": "gcp"}),
        ("DELETE", "/api/v1/modules/vpc", None),
        ("POST", "/api/v1/modules/vpc/runs", {"tag": "v1.0.0"}),
        ("POST", "/api/v1/modules/vpc/versions/1.0.0/yank", None),
        ("POST", "/api/v1/modules/vpc/versions/1.0.0/unyank", None),
    ]:
        answer = client.request(method, path, headers=reader, json=payload)
        assert answer.status_code == 403, (method, path, answer.text)
    assert client.get("/api/v1/modules/vpc", headers={}).status_code == 401
    assert client.get("/api/v1/modules/vpc", headers=reader).json()["provider"] == "aws"
    missing = client.post("/api/v1/modules/vpc/versions/1.0.0/yank", headers=admin)
    assert missing.status_code == 404 and "has no version 1.0.0" in missing.json()["detail"]
