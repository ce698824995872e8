"""Merge request comments: one per stack per merge request, found again and updated in place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackyard.bootstrap import Platform
from stackyard.core.reports import NOTE_LIMIT, comment_marker
from support.feedback_world import PROJECT, SUMMARY_ONE_ADD, World, advance, gitlab_world, settle, start_run


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    with gitlab_world(platform) as built:
        built.add_stack("app")
        built.add_stack("web")
        yield built


def ours(world: World, iid: int, stack: str = "app") -> list[dict[str, object]]:
    return [
        n for n in world.double.notes(PROJECT, iid)
        if not n["system"] and str(n["body"]).startswith(comment_marker(stack))
    ]


def finish_plan(platform: Platform, stack: str, sha: str, ref: str, plan: str) -> int:
    run_id = start_run(platform, stack, sha=sha, ref=ref)
    advance(platform, run_id, "preparing")
    advance(platform, run_id, "planning")
    advance(platform, run_id, "finished", plan_text=plan, **SUMMARY_ONE_ADD)
    return run_id


def test_a_push_with_two_open_merge_requests_comments_on_both(world: World, platform: Platform) -> None:
    world.double.push(PROJECT, branch="release", files={"notes.txt": "r\n"}, deliver=False)
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    first = world.double.open_merge_request(PROJECT, source_branch="feature", target_branch="main", deliver=False)
    second = world.double.open_merge_request(PROJECT, source_branch="feature", target_branch="release",
                                             deliver=False)
    run_id = finish_plan(platform, "app", sha, "feature", "+ resource \"null\" \"a\"")
    settle(platform)
    for iid in (first, second):
        [note] = ours(world, iid)
        body = str(note["body"])
        assert f"https://stackyard.example/runs/{run_id}" in body
        assert "`+1 ~0 -0` would add 1 resource" in body and 'resource "null" "a"' in body


def test_later_runs_update_the_comment_in_place(world: World, platform: Platform) -> None:
    world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v1\n"}, deliver=False)
    iid = world.double.open_merge_request(PROJECT, source_branch="feature", deliver=False)
    sha1 = world.double.merge_requests(PROJECT)[0]["sha"]
    finish_plan(platform, "app", str(sha1), "feature", "plan one")
    finish_plan(platform, "web", str(sha1), "feature", "web plan")
    settle(platform)
    [before] = ours(world, iid)
    world.double.add_note(PROJECT, iid, "looks good", author="alice", deliver=False)
    sha2 = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    second = finish_plan(platform, "app", sha2, "feature", "plan two")
    settle(platform)
    [after] = ours(world, iid)
    assert after["id"] == before["id"]
    assert "plan two" in str(after["body"]) and f"/runs/{second}" in str(after["body"])
    assert len(ours(world, iid, "web")) == 1
    # One comment per stack, and never a note created twice for the same stack.
    creates = [r for r in world.double.requests if r.method == "POST" and r.path.endswith("/notes")]
    assert len(creates) == 2


def test_a_comment_someone_deleted_is_written_again_once(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v1\n"}, deliver=False)
    iid = world.double.open_merge_request(PROJECT, source_branch="feature", deliver=False)
    finish_plan(platform, "app", sha, "feature", "plan one")
    [note] = ours(world, iid)
    world.double.note_rows.pop(int(str(note["id"])))
    sha2 = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    finish_plan(platform, "app", sha2, "feature", "plan two")
    [again] = ours(world, iid)
    assert "plan two" in str(again["body"])


def test_an_old_commit_never_overwrites_the_comment_of_the_new_head(world: World, platform: Platform) -> None:
    old = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v1\n"}, deliver=False)
    iid = world.double.open_merge_request(PROJECT, source_branch="feature", deliver=False)
    slow = start_run(platform, "app", sha=old, ref="feature")
    new = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v2\n"}, deliver=False)
    finish_plan(platform, "app", new, "feature", "new plan")
    advance(platform, slow, "finished", plan_text="old plan", **SUMMARY_ONE_ADD)
    settle(platform)
    [note] = ours(world, iid)
    assert "new plan" in str(note["body"]) and "old plan" not in str(note["body"])


def test_a_huge_plan_is_collapsed_and_cut_to_the_note_limit(world: World, platform: Platform) -> None:
    sha = world.double.push(PROJECT, branch="feature", files={"app/main.tf": "# v1\n"}, deliver=False)
    iid = world.double.open_merge_request(PROJECT, source_branch="feature", deliver=False)
    plan = "\n".join(f"  + resource number {n} " + "x" * 80 for n in range(12_000))
    assert len(plan) > NOTE_LIMIT
    run_id = finish_plan(platform, "app", sha, "feature", plan)
    [note] = ours(world, iid)
    body = str(note["body"])
    assert len(body) <= NOTE_LIMIT
    assert "<details>" in body and "more lines are in the full log" in body
    assert f"https://stackyard.example/runs/{run_id}#log" in body
