"""What the feedback outbox needs from GitLabForge: Retry-After kept on 429, GitLab's current status state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackyard.core.ports import ForgeRateLimited, StatusTransitionRefused
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.gitlab.forge import GitLabForge, retry_after_seconds

TOKEN = "glpat-stackyard"


@pytest.fixture
def double() -> GitLabDouble:
    double = GitLabDouble()
    double.add_user("stackyard-bot", token=TOKEN, scopes=("api",), expires_at="2099-01-01")
    double.add_project("group/app", default_branch="main", files={"main.tf": "# main\n"})
    return double


@pytest.fixture
def base_url(double: GitLabDouble) -> Iterator[str]:
    with serve_double(double) as url:
        yield url


def test_a_429_is_raised_at_once_with_its_retry_after(double: GitLabDouble, base_url: str) -> None:
    forge = GitLabForge(base_url, TOKEN, timeout=5.0, wait_on_rate_limit=False)
    double.faults.fail_next(count=1, status=429, retry_after=42)
    with pytest.raises(ForgeRateLimited) as caught:
        forge.project(1)
    assert caught.value.retry_after == 42
    assert [r.status for r in double.requests] == [429]  # python-gitlab did not sleep and retry
    double.faults.fail_next(count=1, status=429, retry_after=9, path_contains="/statuses/")
    sha = str(double.project("group/app").branches["main"])
    with pytest.raises(ForgeRateLimited) as caught:
        forge.set_commit_status(1, sha, name="s", state="pending", ref="main", target_url=None, description="d")
    assert caught.value.retry_after == 9


def test_a_refused_transition_says_what_gitlab_holds(double: GitLabDouble, base_url: str) -> None:
    forge = GitLabForge(base_url, TOKEN, timeout=5.0)
    sha = str(double.project("group/app").branches["main"])
    forge.set_commit_status(1, sha, name="s", state="running", ref="main", target_url=None, description="d")
    with pytest.raises(StatusTransitionRefused) as caught:
        forge.set_commit_status(1, sha, name="s", state="pending", ref="main", target_url=None, description="d")
    assert caught.value.current == "running" and caught.value.permanent


def test_retry_after_seconds_prefers_retry_after_then_reset() -> None:
    assert retry_after_seconds({"Retry-After": "30", "RateLimit-Reset": "2000"}, now=1000) == 30
    assert retry_after_seconds({"RateLimit-Reset": "1012"}, now=1000) == 12
    assert retry_after_seconds({"RateLimit-Reset": "900"}, now=1000) == 0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1000) is None
    assert retry_after_seconds({}, now=1000) is None


def test_a_comment_whose_answer_was_lost_is_found_again_not_posted_twice(double: GitLabDouble, base_url: str) -> None:
    """GitLab saved the note, a proxy answered 502: python-gitlab must not repeat the POST, and the
    outbox's next try (note id unknown) finds the comment by its marker and updates it."""
    from stackyard.core.ports import ForgeUnavailable

    forge = GitLabForge(base_url, TOKEN, timeout=5.0)
    double.push("group/app", branch="feature", files={"main.tf": "# v2\n"}, deliver=False)
    iid = double.open_merge_request("group/app", source_branch="feature", title="t", deliver=False)
    marker = "<!-- stackyard:app -->"
    double.faults.fail_next(status=502, path_contains="/notes", method="POST", after_applying=True)
    with pytest.raises(ForgeUnavailable):
        forge.upsert_note(1, iid, marker=marker, body=f"{marker}\nv1", note_id=None)
    forge.upsert_note(1, iid, marker=marker, body=f"{marker}\nv2", note_id=None)
    bodies = [n["body"] for n in double.notes("group/app", iid) if not n["system"]]
    assert bodies == [f"{marker}\nv2"]
