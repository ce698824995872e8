"""The module page: registry address, versions with their test runs, runs; buttons for admins only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.storage.tables import ModuleVersion
from support.ui_rows import add_integration, add_run, add_stack, csrf_of


@pytest.fixture
def vpc(platform: Platform) -> int:
    return add_stack(platform, name="vpc", integration_id=add_integration(platform), kind="module",
                     namespace="net", provider="aws")


def add_version(platform: Platform, module_id: int, version: str, *, run_id: int, state: str = "published") -> None:
    with platform.sessions.begin() as session:
        session.add(ModuleVersion(module_id=module_id, version=version, tag=f"v{version}",
                                  commit_sha="c0ffee" * 6 + "ab", run_id=run_id, state=state, archive=b"x",
                                  archive_sha256="0" * 64, size=1))


def test_module_page_shows_the_address_versions_and_runs(reader_page: TestClient, platform: Platform,
                                                         vpc: int) -> None:
    run_id = add_run(platform, stack_id=vpc, state="finished", run_type="test", reason="v1.0.0 published")
    add_version(platform, vpc, "1.0.0", run_id=run_id)
    add_version(platform, vpc, "1.1.0", run_id=run_id, state="yanked")
    page = reader_page.get("/modules/vpc")
    assert page.status_code == 200
    assert '<code id="module-source">127.0.0.1:8080/net/vpc/aws</code>' in page.text
    assert page.text.index("<code>1.1.0</code>") < page.text.index("<code>1.0.0</code>")
    assert "yanked" in page.text and "published" in page.text and "c0ffeec0" in page.text
    assert page.text.count(f'<a href="/runs/{run_id}">#{run_id}</a>') == 3  # two versions and the runs table
    assert 'action="/modules/' not in page.text
    assert "Yank" not in page.text and "Test the tag" not in page.text
    assert "a test, no plan" in page.text and "not known" not in page.text


def test_admins_yank_and_publish_again_from_the_page(admin_page: TestClient, platform: Platform, vpc: int) -> None:
    run_id = add_run(platform, stack_id=vpc, state="finished", run_type="test")
    add_version(platform, vpc, "2.0.0", run_id=run_id)
    page = admin_page.get("/modules/vpc").text
    assert 'action="/modules/vpc/versions/2.0.0/yank"' in page and 'action="/modules/vpc/runs"' in page
    answer = admin_page.post("/modules/vpc/versions/2.0.0/yank", data={"csrf_token": csrf_of(page)},
                             follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/modules/vpc"
    page = admin_page.get("/modules/vpc").text
    assert 'action="/modules/vpc/versions/2.0.0/unyank"' in page and "Publish again" in page
    refused = admin_page.post("/modules/vpc/versions/2.0.0/yank", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 409 and "already yanked" in refused.text
    bad_tag = admin_page.post("/modules/vpc/runs", data={"csrf_token": csrf_of(page), "tag": "latest"})
    assert bad_tag.status_code == 400 and "not a semver version tag" in bad_tag.text


def test_readers_cannot_post_module_forms(reader_page: TestClient, platform: Platform, vpc: int) -> None:
    run_id = add_run(platform, stack_id=vpc, state="finished", run_type="test")
    add_version(platform, vpc, "1.0.0", run_id=run_id)
    token = csrf_of(reader_page.get("/modules/vpc").text)
    assert reader_page.post("/modules/vpc/versions/1.0.0/yank", data={"csrf_token": token}).status_code == 403
    assert reader_page.post("/modules/vpc/runs", data={"csrf_token": token, "tag": "v1.0.0"}).status_code == 403
