"""The double's REST API, driven through python-gitlab exactly as Stackyard calls it (GITLAB.md D2)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import gitlab
import httpx
import pytest
from gitlab_double_shared import PROJECT_PATH, TOKEN

from stackyard.devtools.gitlab_double import GitLabDouble

# Fixtures live in a uniquely named module: a conftest.py would shadow other folders' conftest.
pytest_plugins = ("gitlab_double_fixtures",)


def test_auth_and_project_by_path_and_id(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    assert gl.user is not None
    assert gl.user.username == "stackyard-bot"
    assert gl.user.bot is True
    by_path = gl.projects.get(PROJECT_PATH)
    by_id = gl.projects.get(by_path.id)
    assert by_id.path_with_namespace == PROJECT_PATH
    assert by_path.default_branch == "main"
    assert by_path.web_url.endswith(f"/{PROJECT_PATH}")
    assert any(r.path == "/api/v4/projects/group%2Fsub%2Fapp" for r in double.requests)
    token = gl.http_get("/personal_access_tokens/self")
    assert token["scopes"] == ["api"]
    assert token["expires_at"] == "2099-01-01"


def test_bad_and_expired_tokens_are_401(double: GitLabDouble, base_url: str) -> None:
    double.add_user(username="old", token="glpat-old", expires_at="2020-01-01")
    for token in ("glpat-wrong", "glpat-old"):
        with pytest.raises(gitlab.GitlabAuthenticationError) as caught:
            gitlab.Gitlab(base_url, private_token=token).auth()
        assert caught.value.response_code == 401
    bearer = httpx.get(f"{base_url}/api/v4/user", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.json()["username"] == "stackyard-bot"


def test_read_api_token_reads_but_cannot_write(double: GitLabDouble, base_url: str) -> None:
    double.add_user(username="reader", token="glpat-read", scopes=("read_api",))
    client = gitlab.Gitlab(base_url, private_token="glpat-read")
    project = client.projects.get(PROJECT_PATH)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.environments.create({"name": "production"})
    assert caught.value.response_code == 403
    assert caught.value.error_message == "insufficient_scope" or "insufficient_scope" in str(
        caught.value.response_body
    )
    assert double.environments(PROJECT_PATH) == []


def test_unknown_project_is_404(gl: gitlab.Gitlab) -> None:
    with pytest.raises(gitlab.GitlabGetError) as caught:
        gl.projects.get("group/missing")
    assert caught.value.response_code == 404
    assert caught.value.error_message == "404 Project Not Found"


def test_status_transitions_follow_the_state_machine(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    sha = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    commit = gl.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    first = commit.statuses.create({"state": "pending", "name": "stackyard/plan"})
    assert (first.status, first.ref) == ("pending", "feature")
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "pending", "name": "stackyard/plan"})
    assert caught.value.response_code == 400
    assert caught.value.error_message.startswith("Cannot transition status via :enqueue from :pending")
    running = commit.statuses.create({"state": "running", "name": "stackyard/plan", "ref": "feature"})
    assert running.id == first.id
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "running", "name": "stackyard/plan"})
    assert caught.value.error_message == (
        'Cannot transition status via :run from :running (Reason(s): Status cannot transition via "run")'
    )
    commit.statuses.create({"state": "success", "name": "stackyard/plan"})
    again = commit.statuses.create({"state": "pending", "name": "stackyard/plan"})
    assert again.id != first.id
    rows = double.statuses(PROJECT_PATH)
    assert [(r["status"], r["retried"]) for r in rows] == [("success", True), ("pending", False)]
    latest = commit.statuses.list(get_all=True)
    assert [s.status for s in latest] == ["pending"]
    everything = commit.statuses.list(get_all=True, all=True)
    assert len(everything) == 2
    default = commit.statuses.create({"state": "success"})
    assert default.name == "default"


def test_status_limits_are_rejected_not_truncated(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    sha = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    commit = gl.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "running", "description": "x" * 256})
    assert caught.value.error_message == {"description": ["is too long (maximum is 255 characters)"]}
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "running", "target_url": "ftp://example.com/x"})
    assert caught.value.error_message == {
        "target_url": ["is blocked: Only allowed schemes are http, https"]
    }
    ok = commit.statuses.create({"state": "running", "description": "x" * 255})
    assert ok.description == "x" * 255
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "running", "name": "n", "ref": "r" * 256})
    assert caught.value.response_code == 400
    unknown = gl.projects.get(PROJECT_PATH, lazy=True).commits.get("f" * 40, lazy=True)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        unknown.statuses.create({"state": "running"})
    assert caught.value.error_message == "404 Commit Not Found"


def test_injected_status_lock_conflict_is_409_and_not_retried(double: GitLabDouble, base_url: str) -> None:
    client = gitlab.Gitlab(base_url, private_token=TOKEN, retry_transient_errors=True)
    sha = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    double.faults.status_lock_conflicts(1)
    commit = client.projects.get(PROJECT_PATH, lazy=True).commits.get(sha, lazy=True)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "running"})
    assert caught.value.response_code == 409
    assert double.statuses(PROJECT_PATH) == []
    assert commit.statuses.create({"state": "running"}).status == "running"


def test_merge_request_reads_and_diffs(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    head = double.push(PROJECT_PATH, branch="feature", files={"stacks/a.tf": "a\n", "main.tf": None})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature", title="Add a", draft=True)
    project = gl.projects.get(PROJECT_PATH)
    found = project.mergerequests.list(state="opened", source_branch="feature", get_all=True)
    assert [mr.iid for mr in found] == [iid]
    assert project.mergerequests.list(state="merged", get_all=True) == []
    mr = project.mergerequests.get(iid)
    assert (mr.sha, mr.diff_refs["head_sha"], mr.draft) == (head, head, True)
    assert mr.source_project_id == mr.target_project_id == project.id
    diffs = gl.http_list(f"/projects/{project.id}/merge_requests/{iid}/diffs", get_all=True)
    assert {(d["new_path"], d["new_file"], d["deleted_file"]) for d in diffs} == {
        ("stacks/a.tf", True, False),
        ("main.tf", False, True),
    }


def test_notes_paginate_and_only_the_author_edits(
    double: GitLabDouble, gl: gitlab.Gitlab, base_url: str
) -> None:
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature")
    double.push(PROJECT_PATH, branch="feature", files={"b.tf": "b\n"}, message="Add b")
    mr = gl.projects.get(PROJECT_PATH, lazy=True).mergerequests.get(iid, lazy=True)
    for number in range(23):
        mr.notes.create({"body": f"plan {number}"})
    notes = mr.notes.list(get_all=True, sort="asc", order_by="created_at")
    assert len(notes) == 24
    assert notes[0].system is True and notes[0].body.startswith("added 1 commit")
    assert [n.body for n in notes[1:3]] == ["plan 0", "plan 1"]
    with pytest.warns(UserWarning):
        assert len(mr.notes.list()) == 20
    alice = gitlab.Gitlab(base_url, private_token="glpat-alice")
    alice_mr = alice.projects.get(PROJECT_PATH, lazy=True).mergerequests.get(iid, lazy=True)
    theirs = alice_mr.notes.get(notes[1].id)
    theirs.body = "edited by alice"
    with pytest.raises(gitlab.GitlabUpdateError) as caught:
        theirs.save()
    assert caught.value.response_code == 403
    mine = mr.notes.get(notes[1].id)
    mine.body = "edited"
    mine.save()
    mr.notes.delete(notes[2].id)
    bodies = [n["body"] for n in double.notes(PROJECT_PATH, iid)]
    assert "edited" in bodies and "plan 1" not in bodies and "edited by alice" not in bodies


def test_note_size_and_quick_actions(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature")
    mr = gl.projects.get(PROJECT_PATH, lazy=True).mergerequests.get(iid, lazy=True)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        mr.notes.create({"body": "x" * 1_000_001})
    assert caught.value.response_code == 400
    mr.notes.create({"body": "x" * 1_000_000})
    answer = gl.http_post(f"/projects/1/merge_requests/{iid}/notes", post_data={"body": "/label ~infra"})
    assert "commands_changes" in answer
    assert [n["body"][:1] for n in double.notes(PROJECT_PATH, iid)] == ["x"]
    assert double.merge_requests(PROJECT_PATH)[0]["labels"] == ["infra"]


def test_environments_and_deployments(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(PROJECT_PATH)
    env = project.environments.create({"name": "review/x", "external_url": "https://x.example"})
    assert env.tier == "development"
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.environments.create({"name": "review/x"})
    assert caught.value.error_message == {"name": ["has already been taken"]}
    with pytest.raises(gitlab.GitlabCreateError):
        project.environments.create({"name": "/bad"})
    with pytest.raises(gitlab.GitlabCreateError):
        project.environments.create({"name": "ok", "external_url": "javascript:alert(1)"})
    assert [e.name for e in project.environments.list(name="review/x")] == ["review/x"]
    with pytest.raises(gitlab.GitlabDeleteError) as caught:
        env.delete()
    assert caught.value.response_code == 403
    env.stop()
    env.delete()

    main_sha = gl.http_get(f"/projects/{project.id}/repository/branches/main")["commit"]["id"]
    deployment = project.deployments.create(
        {"environment": "production", "sha": main_sha, "ref": "main", "tag": False, "status": "running"}
    )
    assert deployment.environment["name"] == "production"
    assert [e.name for e in project.environments.list(name="production")] == ["production"]
    deployment.status = "running"
    with pytest.raises(gitlab.GitlabUpdateError) as caught:
        deployment.save()
    assert (caught.value.response_code, caught.value.error_message) == (400, {})
    deployment.status = "success"
    deployment.save()
    deployment.status = "success"
    with pytest.raises(gitlab.GitlabUpdateError):
        deployment.save()
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.deployments.create(
            {"environment": "production", "sha": main_sha, "ref": "nope", "tag": False, "status": "success"}
        )
    assert caught.value.error_message == {"ref": ["The branch or tag does not exist"]}
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.deployments.create(
            {"environment": "production", "sha": main_sha, "ref": "main", "tag": False, "status": "created"}
        )
    assert caught.value.response_code == 400
    listed = project.deployments.list(environment="production", status="success", order_by="id", sort="desc")
    assert [d.id for d in listed] == [deployment.id]
    assert [d["status"] for d in double.deployments(PROJECT_PATH)] == ["success"]


def test_hooks_crud_keeps_tokens_write_only(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    project = gl.projects.get(PROJECT_PATH)
    hook = project.hooks.create(
        {"url": "https://ci.example/hook", "token": "s3cret", "push_events": True,
         "merge_requests_events": True, "note_events": True, "signing_token": "whsec_" + "A" * 44}
    )
    assert "token" not in hook.attributes and "signing_token" not in hook.attributes
    assert hook.token_present is True and hook.signing_token_present is True
    hook.merge_requests_events = False
    hook.save()
    fetched = project.hooks.get(hook.id)
    assert fetched.merge_requests_events is False and fetched.token_present is True
    fetched.url = "https://ci.example/other"
    fetched.save()
    assert project.hooks.get(hook.id).token_present is False
    assert len(project.hooks.list(get_all=True)) == 1
    project.hooks.delete(hook.id)
    assert double.hooks(PROJECT_PATH) == []


def test_archive_streams_a_real_tarball(double: GitLabDouble, gl: gitlab.Gitlab, tmp_path: Path) -> None:
    sha = double.push(PROJECT_PATH, branch="feature", files={"stacks/net/main.tf": "net\n"})
    project = gl.projects.get(PROJECT_PATH)
    target = tmp_path / "archive.tar.gz"
    with target.open("wb") as handle:
        project.repository_archive(
            sha=sha, format="tar.gz", streamed=True, action=handle.write, chunk_size=65536
        )
    with tarfile.open(target) as archive:
        archive.extractall(tmp_path / "out", filter="data")
    root = tmp_path / "out" / f"app-{sha}-{sha}"
    assert (root / "stacks/net/main.tf").read_text() == "net\n"
    assert (root / "main.tf").read_text() == "resource {}\n"
    assert double.archive_downloads == 1
    assert double.requests[-1].path == "/api/v4/projects/1/repository/archive.tar.gz"


def test_archive_rate_limit_answers_the_application_429(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    double.archive_rate_limit = 2
    project = gl.projects.get(PROJECT_PATH)
    for _ in range(2):
        with tarfile.open(fileobj=io.BytesIO(project.repository_archive(format="tar.gz"))) as archive:
            assert archive.getnames()[0] == f"app-main-{double.projects[1].branches['main']}"
    with pytest.raises(gitlab.GitlabListError) as caught:
        project.repository_archive(format="tar.gz", obey_rate_limit=False)
    assert caught.value.response_code == 429
    assert caught.value.error_message == {
        "error": "This endpoint has been requested too many times. Try again later."
    }
    assert double.archive_downloads == 2


def test_compare_lists_commits_and_diffs(double: GitLabDouble, gl: gitlab.Gitlab) -> None:
    first = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"}, message="one")
    second = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "b\n", "c.tf": "c\n"}, message="two")
    result = gl.projects.get(PROJECT_PATH).repository_compare("main", "feature")
    assert [c["id"] for c in result["commits"]] == [first, second]
    assert result["commit"]["id"] == second
    assert {d["new_path"] for d in result["diffs"]} == {"a.tf", "c.tf"}
    assert result["compare_same_ref"] is False and result["compare_timeout"] is False
    narrow = gl.projects.get(PROJECT_PATH).repository_compare(first, second)
    assert [d["new_path"] for d in narrow["diffs"]] == ["a.tf", "c.tf"]
    assert "-a\n+b" in narrow["diffs"][0]["diff"]


def test_pagination_headers_are_absolute_and_capped(
    double: GitLabDouble, gl: gitlab.Gitlab, base_url: str
) -> None:
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature")
    for number in range(25):
        double.add_note(PROJECT_PATH, iid, f"n{number}", deliver=False)
    url = f"{base_url}/api/v4/projects/group%2Fsub%2Fapp/merge_requests/{iid}/notes"
    response = httpx.get(url, params={"per_page": 500}, headers={"PRIVATE-TOKEN": TOKEN})
    assert response.headers["x-per-page"] == "100" and len(response.json()) == 25
    page = httpx.get(url, params={"per_page": 10, "page": 2}, headers={"PRIVATE-TOKEN": TOKEN})
    assert [page.headers[f"x-{name}"] for name in ("page", "next-page", "prev-page")] == ["2", "3", "1"]
    assert (page.headers["x-total"], page.headers["x-total-pages"]) == ("25", "3")
    assert f'<{url}?per_page=10&page=3>; rel="next"' in page.headers["link"]
