"""GitLabForge against the GitLab double: what GitLab received and now holds."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import gitlab
import pytest

from stackyard.core.ports import (
    Forge,
    ForgeAuthError,
    ForgeRateLimited,
    ForgeRefused,
    ForgeUnavailable,
    MergeRequestInfo,
)
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.gitlab.errors import classify
from stackyard.gitlab.forge import GitLabForge
from stackyard.gitlab.hooks import WANTED_EVENTS

TOKEN = "glpat-stackyard"
HOOK_URL = "https://stackyard.example/webhooks/gitlab/main"


@pytest.fixture
def double() -> GitLabDouble:
    double = GitLabDouble()
    double.add_user("stackyard-bot", token=TOKEN, scopes=("api",), expires_at="2099-01-01")
    double.add_user("alice", token="glpat-alice", scopes=("api",))
    return double


@pytest.fixture
def base_url(double: GitLabDouble) -> Iterator[str]:
    with serve_double(double) as url:
        yield url


def make_forge(base_url: str, token: str = TOKEN, *, today: date | None = None) -> GitLabForge:
    return GitLabForge(
        base_url,
        token,
        timeout=5.0,
        max_retries=2,
        status_lock_delays=(0.01,) * 3,
        today=(lambda: today) if today else None,
    )


@pytest.fixture
def forge(base_url: str) -> GitLabForge:
    return make_forge(base_url)


@pytest.fixture
def project_id(double: GitLabDouble) -> int:
    return int(double.add_project("group/sub/app", default_branch="main", files={"main.tf": "# main\n"}).id)


def field(row: Mapping[str, object], *keys: str) -> str:
    """A nested field of an API object the double holds."""
    value: object = row
    for key in keys:
        assert isinstance(value, Mapping)
        value = value[key]
    return str(value)


def outside_client(base_url: str, token: str = TOKEN) -> gitlab.Gitlab:
    """Plain python-gitlab, to arrange what a project already has before the forge looks."""
    return gitlab.Gitlab(base_url, private_token=token, per_page=100)


def test_implements_the_port(forge: GitLabForge) -> None:
    port: Forge = forge  # mypy checks the structure; services only ever see this
    assert port is forge


# --- token and project -------------------------------------------------------------------------


def test_check_token_healthy(forge: GitLabForge) -> None:
    check = forge.check_token()
    assert check.ok
    assert check.user == "stackyard-bot"
    assert check.scopes == ("api",)
    assert check.expires_at == "2099-01-01"
    assert check.problems == ()


def test_check_token_read_api_only(double: GitLabDouble, base_url: str) -> None:
    double.add_user("reader", token="glpat-reader", scopes=("read_api",))
    check = make_forge(base_url, "glpat-reader").check_token()
    assert not check.ok
    assert check.problems == ("the token lacks the api scope (has: read_api)",)


def test_check_token_expiring_soon(double: GitLabDouble, base_url: str) -> None:
    # The double refuses a token past its expiry date by the real clock, so "today" must be the real one.
    today = datetime.now(UTC).date()
    soon = (today + timedelta(days=10)).isoformat()
    double.add_user("soon", token="glpat-soon", scopes=("api",), expires_at=soon)
    check = make_forge(base_url, "glpat-soon", today=today).check_token()
    assert check.ok  # still works today; the warning is for a person to act on
    assert check.problems == (f"the token expires on {soon}, in 10 days",)


def test_check_token_rejected(base_url: str) -> None:
    check = make_forge(base_url, "glpat-unknown").check_token()
    assert not check.ok and check.user is None
    assert check.problems == ("GitLab rejected the token (401): it was revoked or has expired",)


def test_check_token_unreachable() -> None:
    check = GitLabForge("http://127.0.0.1:9", TOKEN, timeout=1.0, max_retries=0).check_token()
    assert not check.ok
    assert "could not be reached" in check.problems[0]


def test_revoked_token_raises_auth_error(double: GitLabDouble, forge: GitLabForge, project_id: int) -> None:
    double.revoke_token(TOKEN)
    with pytest.raises(ForgeAuthError) as caught:
        forge.project(project_id)
    assert caught.value.status == 401 and caught.value.permanent


def test_project_by_path_and_id(forge: GitLabForge, project_id: int, base_url: str) -> None:
    by_path = forge.project("group/sub/app")
    assert by_path == forge.project(project_id)
    assert by_path.id == project_id
    assert by_path.path == "group/sub/app"
    assert by_path.default_branch == "main"
    assert by_path.web_url.endswith("/group/sub/app")


def test_missing_project_is_refused(forge: GitLabForge) -> None:
    with pytest.raises(ForgeRefused) as caught:
        forge.project("group/nothing-here")
    assert caught.value.status == 404 and caught.value.permanent
    assert "Project Not Found" in caught.value.message


# --- hooks -------------------------------------------------------------------------------------


def test_ensure_hook_is_idempotent(double: GitLabDouble, forge: GitLabForge, project_id: int) -> None:
    results = [forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret") for _ in range(3)]
    assert [r.action for r in results] == ["created", "unchanged", "unchanged"]
    hooks = double.hooks(project_id)
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook["id"] == results[0].hook_id
    assert hook["url"] == HOOK_URL
    assert hook["token_present"] is True
    for name, wanted in WANTED_EVENTS.items():
        if name in hook:
            assert hook[name] is wanted, name


def test_ensure_hook_repairs_wrong_settings(
    double: GitLabDouble, forge: GitLabForge, project_id: int, base_url: str
) -> None:
    existing = (
        outside_client(base_url)
        .projects.get(project_id, lazy=True)
        .hooks.create(
            {
                "url": HOOK_URL + "/",
                "push_events": False,
                "pipeline_events": True,
                "enable_ssl_verification": False,
                "note_events": True,
            }
        )
    )
    result = forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
    assert (result.hook_id, result.action, result.removed_duplicates) == (existing.id, "repaired", 0)
    [hook] = double.hooks(project_id)
    assert hook["push_events"] is True
    assert hook["pipeline_events"] is False
    assert hook["enable_ssl_verification"] is True
    assert hook["token_present"] is True
    [put] = [r for r in double.requests if r.method == "PUT" and "/hooks/" in r.path]
    assert put.body is not None
    # Only what changed, plus the url PUT requires and the write-only token (C5).
    assert set(put.body) == {
        "url",
        "token",
        "push_events",
        "tag_push_events",
        "merge_requests_events",
        "pipeline_events",
        "enable_ssl_verification",
    }


def test_ensure_hook_removes_duplicates_keeping_the_oldest(
    double: GitLabDouble, forge: GitLabForge, project_id: int, base_url: str
) -> None:
    hooks = outside_client(base_url).projects.get(project_id, lazy=True).hooks
    first = forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
    hooks.create({"url": HOOK_URL, **WANTED_EVENTS})
    hooks.create({"url": HOOK_URL + "/", **WANTED_EVENTS})
    other = hooks.create({"url": "https://elsewhere.example/hook"})
    result = forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
    assert result.hook_id == first.hook_id
    assert result.removed_duplicates == 2
    assert {h["id"] for h in double.hooks(project_id)} == {first.hook_id, other.id}


def test_ensure_hook_moves_the_hook_it_installed_to_a_new_url(
    double: GitLabDouble, forge: GitLabForge, project_id: int, base_url: str
) -> None:
    old = forge.ensure_hook(project_id, url="http://old.example/webhooks/gitlab/main", token="s3cret")
    other = outside_client(base_url).projects.get(project_id, lazy=True).hooks.create({"url": "https://other.example"})
    moved = forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret", known_id=old.hook_id)
    assert (moved.hook_id, moved.action) == (old.hook_id, "repaired")
    assert {h["id"]: h["url"] for h in double.hooks(project_id)} == {old.hook_id: HOOK_URL, other.id: other.url}
    [hook] = [h for h in double.hooks(project_id) if h["id"] == old.hook_id]
    assert hook["token_present"] is True


def test_ensure_hook_deletes_its_old_hook_when_one_has_the_new_url(
    double: GitLabDouble, forge: GitLabForge, project_id: int
) -> None:
    old = forge.ensure_hook(project_id, url="http://old.example/webhooks/gitlab/main", token="s3cret")
    new = forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
    result = forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret", known_id=old.hook_id)
    assert (result.hook_id, result.action, result.removed_duplicates) == (new.hook_id, "unchanged", 1)
    assert [h["id"] for h in double.hooks(project_id)] == [new.hook_id]


def test_remove_hook_takes_the_hook_it_installed_wherever_it_points(
    double: GitLabDouble, forge: GitLabForge, project_id: int
) -> None:
    old = forge.ensure_hook(project_id, url="http://old.example/webhooks/gitlab/main", token="s3cret")
    forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
    assert forge.remove_hook(project_id, HOOK_URL, known_id=old.hook_id) == 2
    assert double.hooks(project_id) == []


def test_remove_hook(double: GitLabDouble, forge: GitLabForge, project_id: int) -> None:
    forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
    assert forge.remove_hook(project_id, HOOK_URL + "/") == 1
    assert double.hooks(project_id) == []
    assert forge.remove_hook(project_id, HOOK_URL) == 0


# --- commit statuses ---------------------------------------------------------------------------


def post_status(forge: GitLabForge, project_id: int, sha: str, state: str, description: str = "d") -> None:
    forge.set_commit_status(
        project_id,
        sha,
        name="stackyard/app",
        state=state,
        ref="main",
        target_url="https://stackyard.example/runs/1",
        description=description,
    )


def live_statuses(double: GitLabDouble, project_id: int) -> list[dict[str, object]]:
    return [s for s in double.statuses(project_id) if not s["retried"]]


@pytest.fixture
def head(double: GitLabDouble, project_id: int) -> str:
    return str(double.push(project_id, branch="main", files={"main.tf": "# v2\n"}, deliver=False))


def test_commit_status_lands(double: GitLabDouble, forge: GitLabForge, project_id: int, head: str) -> None:
    post_status(forge, project_id, head, "pending", "queued")
    post_status(forge, project_id, head, "running", "planning")
    [status] = live_statuses(double, project_id)
    assert status["status"] == "running"
    assert status["name"] == "stackyard/app"
    assert status["description"] == "planning"
    assert status["target_url"] == "https://stackyard.example/runs/1"


def test_commit_status_lock_conflict_is_retried(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str
) -> None:
    double.faults.status_lock_conflicts(2)
    post_status(forge, project_id, head, "success")
    assert [s["status"] for s in double.statuses(project_id)] == ["success"]
    posts = [r for r in double.requests if r.method == "POST" and "/statuses/" in r.path]
    assert [r.status for r in posts] == [409, 409, 201]


def test_commit_status_lock_that_never_frees_is_unavailable(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str
) -> None:
    double.faults.status_lock_conflicts(10)
    with pytest.raises(ForgeUnavailable) as caught:
        post_status(forge, project_id, head, "success")
    assert caught.value.status == 409 and not caught.value.permanent
    assert double.statuses(project_id) == []


def test_refused_transition(double: GitLabDouble, forge: GitLabForge, project_id: int, head: str) -> None:
    post_status(forge, project_id, head, "running")
    with pytest.raises(ForgeRefused) as caught:
        post_status(forge, project_id, head, "pending")
    assert caught.value.status == 400
    assert "does not allow that transition" in caught.value.message
    assert "Cannot transition status via" in caught.value.message


def test_long_description_is_cut_not_refused(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str
) -> None:
    post_status(forge, project_id, head, "failed", "x" * 400)
    [status] = double.statuses(project_id)
    description = str(status["description"])
    assert len(description) == 255 and description.endswith("…")


# --- notes -------------------------------------------------------------------------------------

MARKER = "<!-- stackyard:app -->"


@pytest.fixture
def iid(double: GitLabDouble, project_id: int) -> int:
    double.push(project_id, branch="feature", files={"main.tf": "# feature\n"}, deliver=False)
    return int(
        double.open_merge_request(
            project_id, source_branch="feature", target_branch="main", title="t", deliver=False
        )
    )


def test_upsert_note_updates_in_place_among_many(
    double: GitLabDouble, forge: GitLabForge, project_id: int, iid: int
) -> None:
    for n in range(60):
        double.add_note(project_id, iid, f"chatter {n}", author="alice", deliver=False)
        double.add_note(project_id, iid, f"changed the description {n}", system=True, deliver=False)
    # Someone quoting our marker is not our comment, and neither is a system note.
    double.add_note(project_id, iid, f"{MARKER}\nfake", author="alice", deliver=False)
    double.add_note(project_id, iid, f"{MARKER}\nsystem", author="stackyard-bot", system=True, deliver=False)
    first = forge.upsert_note(project_id, iid, marker=MARKER, body=f"{MARKER}\nv1", note_id=None)
    double.add_note(project_id, iid, "more chatter", author="alice", deliver=False)
    again = forge.upsert_note(project_id, iid, marker=MARKER, body=f"{MARKER}\nv2", note_id=None)
    known = forge.upsert_note(project_id, iid, marker=MARKER, body=f"{MARKER}\nv3", note_id=first)
    assert first == again == known
    notes = double.notes(project_id, iid)
    assert len(notes) > 100  # ours sits on the second page
    ours = [
        (n["id"], n["body"])
        for n in notes
        if not n["system"] and field(n, "author", "username") == "stackyard-bot"
    ]
    assert ours == [(first, f"{MARKER}\nv3")]
    assert forge.find_note(project_id, iid, marker=MARKER) == first


def test_upsert_note_recreates_a_deleted_comment(
    double: GitLabDouble, forge: GitLabForge, project_id: int, iid: int, base_url: str
) -> None:
    first = forge.upsert_note(project_id, iid, marker=MARKER, body=f"{MARKER}\nv1", note_id=None)
    outside_client(base_url).projects.get(project_id, lazy=True).mergerequests.get(
        iid, lazy=True
    ).notes.delete(first)
    second = forge.upsert_note(project_id, iid, marker=MARKER, body=f"{MARKER}\nv2", note_id=first)
    assert second != first
    assert [n["body"] for n in double.notes(project_id, iid)] == [f"{MARKER}\nv2"]


def test_note_on_missing_merge_request_is_refused(forge: GitLabForge, project_id: int) -> None:
    with pytest.raises(ForgeRefused) as caught:
        forge.create_note(project_id, 999, "hello")
    assert caught.value.status == 404


# --- merge requests and changes ----------------------------------------------------------------


def test_merge_requests_and_changed_paths(double: GitLabDouble, forge: GitLabForge, project_id: int) -> None:
    double.push(project_id, branch="feature", files={"modules/a.tf": "a", "main.tf": None}, deliver=False)
    sha = double.push(project_id, branch="feature", files={"modules/b.tf": "b"}, deliver=False)
    iid = double.open_merge_request(project_id, source_branch="feature", title="t", deliver=False)
    expected = MergeRequestInfo(
        iid=iid,
        source_branch="feature",
        target_branch="main",
        source_project_id=project_id,
        head_sha=sha,
        state="opened",
    )
    assert forge.merge_request(project_id, iid) == expected
    assert forge.open_merge_requests(project_id, source_branch="feature") == [expected]
    assert forge.open_merge_requests(project_id, source_branch="feature", head_sha="0" * 40) == []
    assert forge.open_merge_requests(project_id, source_branch="other") == []
    assert forge.merge_request_changed_paths(project_id, iid) == {"modules/a.tf", "modules/b.tf", "main.tf"}
    [mr] = double.merge_requests(project_id)
    assert forge.changed_paths(project_id, field(mr, "diff_refs", "base_sha"), sha) == {
        "modules/a.tf",
        "modules/b.tf",
        "main.tf",
    }


def test_merge_request_diffs_are_paginated(double: GitLabDouble, forge: GitLabForge, project_id: int) -> None:
    files: dict[str, str | None] = {f"stacks/s{n:03d}/main.tf": str(n) for n in range(130)}
    double.push(project_id, branch="big", files=files, deliver=False)
    iid = double.open_merge_request(project_id, source_branch="big", title="big", deliver=False)
    assert forge.merge_request_changed_paths(project_id, iid) == frozenset(files)


# --- environments and deployments --------------------------------------------------------------


def test_environment_and_deployment(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str
) -> None:
    env_id = forge.ensure_environment(
        project_id, name="stackyard/app", external_url="https://sy.example/stacks/app"
    )
    assert (
        forge.ensure_environment(
            project_id, name="stackyard/app", external_url="https://sy.example/stacks/app"
        )
        == env_id
    )
    assert (
        forge.ensure_environment(
            project_id, name="stackyard/app", external_url="https://new.example/stacks/app"
        )
        == env_id
    )
    [env] = double.environments(project_id)
    assert env["name"] == "stackyard/app" and env["external_url"] == "https://new.example/stacks/app"

    deployment_id = forge.create_deployment(
        project_id, environment="stackyard/app", sha=head, ref="main", status="running"
    )
    forge.update_deployment(project_id, deployment_id, "success")
    [deployment] = double.deployments(project_id)
    assert deployment["status"] == "success" and deployment["sha"] == head and deployment["ref"] == "main"
    with pytest.raises(ForgeRefused) as caught:
        forge.update_deployment(project_id, deployment_id, "running")  # success -> running is invalid (C4)
    assert caught.value.status == 400
    assert double.deployments(project_id)[0]["status"] == "success"


def test_a_deployment_create_is_not_retried_by_python_gitlab(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str
) -> None:
    # GitLab committed, a proxy answered 502: retrying the POST would make a second deployment (C4).
    double.faults.fail_next(status=502, path_contains="/deployments", method="POST", after_applying=True)
    with pytest.raises(ForgeUnavailable):
        forge.create_deployment(project_id, environment="stackyard/app", sha=head, ref="main", status="running")
    assert [d["status"] for d in double.deployments(project_id)] == ["running"]


def test_running_deployments_are_listed_newest_first_and_say_whose_they_are(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str, base_url: str
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    ours = forge.create_deployment(project_id, environment="stackyard/app", sha=head, ref="main", status="running")
    theirs = outside_client(base_url, "glpat-alice").projects.get(project_id, lazy=True).deployments.create(
        {"environment": "stackyard/app", "sha": head, "ref": "main", "tag": False, "status": "running"}
    ).id
    done = forge.create_deployment(project_id, environment="stackyard/app", sha=head, ref="main", status="running")
    forge.update_deployment(project_id, done, "success")
    found = forge.running_deployments(project_id, environment="stackyard/app", updated_after=start)
    assert [(d.id, d.ours, d.sha, d.ref) for d in found] == [(theirs, False, head, "main"), (ours, True, head, "main")]
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert forge.running_deployments(project_id, environment="stackyard/app", updated_after=later) == []
    query = next(r.query for r in double.requests if r.method == "GET" and r.path.endswith("/deployments"))
    assert (query["order_by"], query["sort"], query["status"]) == ("updated_at", "desc", "running")


# --- tags --------------------------------------------------------------------------------------


def test_tag_commit_sha_follows_annotated_and_lightweight_tags_only(
    double: GitLabDouble, forge: GitLabForge, project_id: int, head: str
) -> None:
    annotated = double.push_tag(project_id, "v1.0.0", head, message="first release", deliver=False)
    lightweight = double.push_tag(project_id, "1.1.0", head, deliver=False)
    assert forge.tag_commit_sha(project_id, "v1.0.0") == annotated == head
    assert forge.tag_commit_sha(project_id, "1.1.0") == lightweight == head
    with pytest.raises(ForgeRefused):
        forge.tag_commit_sha(project_id, "main")  # a branch is not a tag


# --- archive -----------------------------------------------------------------------------------


def test_download_archive_round_trip(forge: GitLabForge, project_id: int, head: str, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / f"{head}.tar.gz"
    forge.download_archive(project_id, head, dest)
    with tarfile.open(dest, "r:gz") as archive:
        members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if m.isfile()}
        assert set(members) == {"main.tf"}
        extracted = archive.extractfile(members["main.tf"])
        assert extracted is not None and extracted.read() == b"# v2\n"
    assert list(dest.parent.iterdir()) == [dest]


def test_failed_download_leaves_nothing(
    double: GitLabDouble, forge: GitLabForge, project_id: int, tmp_path: Path
) -> None:
    dest = tmp_path / "a.tar.gz"
    with pytest.raises(ForgeRefused):
        forge.download_archive(project_id, "f" * 40, dest)
    assert list(tmp_path.iterdir()) == []


# --- transient failures ------------------------------------------------------------------------


def test_transient_errors_are_retried(double: GitLabDouble, forge: GitLabForge, project_id: int) -> None:
    double.faults.fail_next(count=2, status=502)
    assert forge.project(project_id).id == project_id


def test_persistent_server_errors_are_unavailable(
    double: GitLabDouble, forge: GitLabForge, project_id: int
) -> None:
    double.faults.fail_next(count=10, status=500)
    with pytest.raises(ForgeUnavailable) as caught:
        forge.project(project_id)
    assert caught.value.status == 500 and not caught.value.permanent


def test_rate_limit_is_obeyed_then_reported(
    double: GitLabDouble, forge: GitLabForge, project_id: int
) -> None:
    double.faults.fail_next(count=1, status=429, retry_after=0)
    assert forge.project(project_id).id == project_id
    double.faults.fail_next(count=10, status=429, retry_after=0)
    with pytest.raises(ForgeRateLimited):
        forge.project(project_id)


def test_classify_shapes() -> None:
    # python-gitlab passes GitLab's `message` through, and it is a dict for validation errors (D4).
    body = {"description": ["is too long (maximum is 255 characters)"]}
    error = classify(gitlab.exceptions.GitlabCreateError(body, 400, b""), doing="post")  # type: ignore[arg-type]
    assert isinstance(error, ForgeRefused)
    assert (
        error.message == "GitLab refused to post (400): description: is too long (maximum is 255 characters)"
    )
    assert isinstance(classify(gitlab.exceptions.GitlabAuthenticationError("x", 401)), ForgeAuthError)
    assert isinstance(classify(gitlab.exceptions.GitlabHttpError("x", 503)), ForgeUnavailable)
    assert isinstance(classify(gitlab.exceptions.GitlabHttpError("x", 409)), ForgeUnavailable)
    assert isinstance(classify(gitlab.exceptions.GitlabHttpError("x", 422)), ForgeRefused)
    empty = classify(gitlab.exceptions.GitlabUpdateError({}, 400, b""), doing="move")  # type: ignore[arg-type]
    assert empty.message.endswith("no reason given")


def test_flaky_gitlab_still_ends_in_the_right_state(
    double: GitLabDouble, base_url: str, project_id: int, iid: int
) -> None:
    forge = GitLabForge(base_url, TOKEN, timeout=5.0, max_retries=6, status_lock_delays=(0.01,) * 3)
    double.faults.set_random_failures(rate=0.3, seed=7, kinds=("500", "502", "503"))
    head = double.merge_requests(project_id)[0]["sha"]
    for _ in range(2):
        forge.ensure_hook(project_id, url=HOOK_URL, token="s3cret")
        forge.upsert_note(project_id, iid, marker=MARKER, body=f"{MARKER}\nplan", note_id=None)
    post_status(forge, project_id, str(head), "pending")
    post_status(forge, project_id, str(head), "success")
    double.faults.clear()
    assert len(double.hooks(project_id)) == 1
    assert [n["body"] for n in double.notes(project_id, iid)] == [f"{MARKER}\nplan"]
    assert [s["status"] for s in live_statuses(double, project_id)] == ["success"]
    assert any(r.status >= 500 for r in double.requests)
