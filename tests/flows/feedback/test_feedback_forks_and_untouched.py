"""Merge requests from forks (status where GitLab takes it, else the comment) and report_untouched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.core.reports import UNTOUCHED_DESCRIPTION, comment_marker
from stackyard.services.feedback import record_untouched_feedback
from stackyard.services.sweep import sweep
from stackyard.storage.tables import Stack
from support.feedback_world import PROJECT, SUMMARY_ONE_ADD, World, advance, gitlab_world, items_of, start_run
from support.queue import drain


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app", allow_forks=True)
        built.add_stack("web", report_untouched=True)
        yield built


def fork_merge_request(world: World) -> tuple[str, int]:
    world.double.fork_project(PROJECT, "alice/live")
    sha = world.double.push("alice/live", branch="patch", files={"app/main.tf": "# fork\n"}, deliver=False)
    iid = world.double.open_merge_request(PROJECT, source_branch="patch", source_project="alice/live",
                                          deliver=False)
    return sha, iid


def run_fork_plan(platform: Platform, sha: str, iid: int) -> int:
    run_id = start_run(platform, "app", sha=sha, ref="patch", trigger="merge_request",
                       merge_request_iid=iid, from_fork=True)
    advance(platform, run_id, "preparing")
    advance(platform, run_id, "planning")
    advance(platform, run_id, "finished", plan_text="+ fork change", **SUMMARY_ONE_ADD)
    return run_id


def test_a_fork_commit_gets_its_status_on_the_merge_request_ref(world: World, platform: Platform) -> None:
    sha, iid = fork_merge_request(world)
    run_fork_plan(platform, sha, iid)
    live = [s for s in world.double.statuses(PROJECT) if not s["retried"]]
    assert [(s["sha"], s["ref"], s["status"]) for s in live] == [(sha, f"refs/merge-requests/{iid}/head", "success")]
    notes = [n for n in world.double.notes(PROJECT, iid) if str(n["body"]).startswith(comment_marker("app"))]
    assert len(notes) == 1 and "+ fork change" in str(notes[0]["body"])


def test_a_refused_fork_status_falls_back_to_the_comment(world: World, platform: Platform) -> None:
    world.double.refuse_fork_statuses = True
    sha, iid = fork_merge_request(world)
    start_run(platform, "app", sha=sha, ref="other", trigger="merge_request", merge_request_iid=iid,
              from_fork=True, type="tracked")
    # The pass that met the refusal wrote the comment too, without waiting for another trigger.
    [early] = [n for n in world.double.notes(PROJECT, iid) if str(n["body"]).startswith(comment_marker("app"))]
    assert "**queued**" in str(early["body"])
    run_id = run_fork_plan(platform, sha, iid)
    assert world.accepted_states() == []
    # Refused once; later states on that commit go to the comment without asking again.
    assert world.status_posts() == [("pending", 403)]
    notes = [n for n in world.double.notes(PROJECT, iid) if str(n["body"]).startswith(comment_marker("app"))]
    assert len(notes) == 1 and "**planned**" in str(notes[0]["body"])
    statuses = [i for i in items_of(platform, run_id) if i.kind == "status"]
    assert all(i.state == "failed" and i.result == {"fallback": "comment"} for i in statuses)
    assert "merge request comment" in (statuses[0].last_error or "")


def untouched(platform: Platform, name: str, sha: str, ref: str) -> bool:
    with platform.sessions.begin() as session:
        stack = session.scalars(select(Stack).where(Stack.name == name)).one()
        return record_untouched_feedback(session, platform, stack, commit_sha=sha, ref=ref)


def test_report_untouched_posts_a_passing_status_after_commit(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# only app\n"}, deliver=False)
    assert untouched(platform, "web", sha, "feature") is True  # an outbox item, committed with the caller
    # Its queue message was lost (a crash right after the commit): the minute's sweep sends it all the same.
    sweep(platform)
    drain(platform)
    live = [s for s in world.double.statuses(PROJECT) if not s["retried"]]
    assert [(s["name"], s["status"], s["description"], s["ref"]) for s in live] == [
        ("stackyard/web", "success", UNTOUCHED_DESCRIPTION, "feature")
    ]
    assert live[0]["target_url"] == "https://stackyard.example/stacks/web"


def test_a_stacks_feedback_shows_untouched_statuses_which_no_run_owns(
    world: World, platform: Platform, client: TestClient, reader: dict[str, str]
) -> None:
    first = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# one\n"}, deliver=False)
    second = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# two\n"}, deliver=False)
    untouched(platform, "web", first, "feature")
    untouched(platform, "web", second, "feature")
    sweep(platform)
    drain(platform)
    listed = client.get("/api/v1/stacks/web/feedback", headers=reader).json()
    assert [(i["commit"], i["run"], i["kind"], i["state"], i["update"]["description"]) for i in listed["items"]] == [
        (second, None, "status", "sent", UNTOUCHED_DESCRIPTION),
        (first, None, "status", "sent", UNTOUCHED_DESCRIPTION),
    ]
    page = client.get("/api/v1/stacks/web/feedback", params={"limit": 1}, headers=reader).json()
    rest = client.get("/api/v1/stacks/web/feedback", params={"limit": 1, "cursor": page["next"]}, headers=reader)
    assert [i["commit"] for i in page["items"] + rest.json()["items"]] == [second, first]
    abbreviated = client.get("/api/v1/stacks/web/feedback", params={"commit": first[:7].upper()}, headers=reader)
    assert [i["commit"] for i in abbreviated.json()["items"]] == [first]
    assert client.get("/api/v1/stacks/app/feedback", headers=reader).json() == {"items": [], "next": None}


@pytest.mark.parametrize("commit", ["", "abc", "g" * 40, "%", "_" * 8, "a" * 65])
def test_a_stacks_feedback_refuses_what_is_not_a_commit(
    world: World, client: TestClient, reader: dict[str, str], commit: str
) -> None:
    answer = client.get("/api/v1/stacks/web/feedback", params={"commit": commit}, headers=reader)
    assert answer.status_code == 400 and "commit" in answer.json()["detail"]
    assert client.get("/api/v1/stacks/nope/feedback", headers=reader).status_code == 404
    assert client.get("/api/v1/stacks/web/feedback").status_code == 401


def test_stacks_without_the_setting_and_rolled_back_transactions_post_nothing(
    world: World, platform: Platform
) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"web/main.tf": "# web\n"}, deliver=False)
    untouched(platform, "app", sha, "feature")
    with pytest.raises(RuntimeError), platform.sessions.begin() as session:
        stack = session.scalars(select(Stack).where(Stack.name == "web")).one()
        record_untouched_feedback(session, platform, stack, commit_sha=sha, ref="feature")
        raise RuntimeError("the delivery's transaction fails")
    drain(platform)
    assert world.status_posts() == []


def test_a_run_on_the_commit_wins_over_a_late_untouched_status(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"web/main.tf": "# web\n"}, deliver=False)
    untouched(platform, "web", sha, "feature")  # queued, not yet sent
    run_id = start_run(platform, "web", sha=sha, ref="feature", send=False)
    advance(platform, run_id, "failed", failed_during="queued", send=False)
    platform.tasks.send_feedback()
    drain(platform)
    assert world.accepted_states(name="stackyard/web") == ["failed"]
