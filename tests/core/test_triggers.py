"""Which runs an event asks for: routing to stacks, path matching, forks, notes, modules, uniqueness."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.core.events import (
    ZERO_SHA,
    Event,
    IgnoredEvent,
    MergeRequestEvent,
    NoteEvent,
    ProjectRef,
    PushEvent,
    TagPushEvent,
)
from stackyard.core.runs import RunType, Trigger
from stackyard.core.stacks import StackSpec
from stackyard.core.triggers import (
    FORK_BLOCKED,
    CompareQuery,
    MergeRequestChangesQuery,
    RunRequest,
    decide,
    is_bot_username,
    plan_command,
    route,
    untouched,
)

PROJECT = ProjectRef(id=12, path="platform/infra")
FORK_ID = 99
A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)

PROD = StackSpec(name="infra-prod", integration="gl", project_id=12, branch="main",
                 project_root="./infra/prod/")
DEV = StackSpec(name="infra-dev", integration="gl", project_id=12, branch="develop", project_root="infra/dev",
                watched_paths=("modules/*",))
OTHER = StackSpec(name="elsewhere", integration="gl", project_id=13, branch="main")
MODULE = StackSpec(name="vpc", integration="gl", project_id=12, branch="main", kind="module")
STACKS = (PROD, DEV, OTHER, MODULE)


def push(branch: str = "main", *, before: str = A, after: str = B,
         paths: frozenset[str] | None = frozenset({"infra/prod/main.tf"})) -> PushEvent:
    return PushEvent(project=PROJECT, branch=branch, before=before, after=after, user_username="alice",
                     changed_paths=paths)


def merge_request(action: str = "open", *, oldrev: str | None = None, head: str = B,
                  source_project_id: int = 12, state: str = "opened",
                  draft: bool = False) -> MergeRequestEvent:
    return MergeRequestEvent(project=PROJECT, iid=7, action=action, state=state, source_branch="feature",
                             target_branch="main", source_project_id=source_project_id, head_sha=head,
                             user_username="alice", oldrev=oldrev, draft=draft)


def note(body: str, *, author: str = "alice", source_project_id: int = 12) -> NoteEvent:
    return NoteEvent(project=PROJECT, noteable_type="MergeRequest", body=body, author_username=author,
                     merge_request_iid=7, source_branch="feature", source_project_id=source_project_id,
                     head_sha=B)


def runs(event: Event, paths: frozenset[str] | None = None,
         stacks: Sequence[StackSpec] = STACKS) -> tuple[list[RunRequest], str]:
    return decide(event, route(event, stacks), paths)


def triples(requests: list[RunRequest]) -> set[tuple[str, str, RunType]]:
    return {(r.stack, r.commit_sha, r.type) for r in requests}


# --- pushes -----------------------------------------------------------------------------------------

def test_push_to_tracked_branch_is_a_tracked_run_on_after() -> None:
    requests, outcome = runs(push("main"))
    assert requests == [RunRequest(stack="infra-prod", type=RunType.TRACKED, trigger=Trigger.PUSH,
                                   commit_sha=B, ref="main")]
    assert outcome == "1 run: infra-prod (tracked)"


def test_push_to_other_branch_is_proposed_for_affected_stacks() -> None:
    event = push("feature", paths=frozenset({"infra/prod/main.tf", "modules/net/vpc.tf"}))
    requests, outcome = runs(event)
    assert triples(requests) == {("infra-prod", B, RunType.PROPOSED), ("infra-dev", B, RunType.PROPOSED)}
    assert {r.ref for r in requests} == {"feature"}
    assert outcome == "2 runs: infra-prod (proposed), infra-dev (proposed)"


def test_push_to_one_stacks_branch_is_tracked_there_and_proposed_elsewhere() -> None:
    requests, outcome = runs(push("develop", paths=frozenset({"infra/prod/x.tf", "infra/dev/y.tf"})))
    assert triples(requests) == {("infra-prod", B, RunType.PROPOSED), ("infra-dev", B, RunType.TRACKED)}
    assert outcome == "2 runs: infra-prod (proposed), infra-dev (tracked)"


@pytest.mark.parametrize(
    ("path", "prod", "dev"),
    [
        ("infra/prod/main.tf", True, False),
        ("infra/prod", True, False),
        ("infra/production/main.tf", False, False),
        ("infra/dev/nested/deep.tf", False, True),
        ("modules/vpc.tf", False, True),  # watched glob
        ("modules/net/vpc.tf", False, True),  # fnmatch's * crosses folders
        ("README.md", False, False),
    ],
)
def test_project_root_and_watched_paths_decide_who_runs(path: str, prod: bool, dev: bool) -> None:
    requests, _ = runs(push("feature", paths=frozenset({path})))
    expected = {name for name, hit in (("infra-prod", prod), ("infra-dev", dev)) if hit}
    assert {r.stack for r in requests} == expected


def test_stack_at_repository_root_sees_every_path() -> None:
    root = StackSpec(name="root", integration="gl", project_id=12, branch="main", project_root="./")
    requests, _ = runs(push("feature", paths=frozenset({"anything/at/all"})), stacks=[root])
    assert triples(requests) == {("root", B, RunType.PROPOSED)}


def test_nothing_changed_for_any_stack() -> None:
    requests, outcome = runs(push("main", paths=frozenset({"docs/readme.md"})))
    assert requests == []
    assert outcome == "no stack's files changed"


def test_truncated_push_asks_compare_and_uses_its_answer() -> None:
    event = push("main", paths=None)
    routing = route(event, STACKS)
    assert routing.paths_query == CompareQuery(project_id=12, from_sha=A, to_sha=B)
    assert decide(event, routing, frozenset({"docs/x.md"}))[0] == []
    assert triples(decide(event, routing, frozenset({"infra/prod/a.tf"}))[0]) == {
        ("infra-prod", B, RunType.TRACKED)}


def test_new_branch_with_cut_list_runs_every_candidate() -> None:
    event = push("feature", before=ZERO_SHA, paths=None)
    routing = route(event, STACKS)
    assert routing.paths_query is None
    requests, _ = decide(event, routing, None)
    assert triples(requests) == {("infra-prod", B, RunType.PROPOSED), ("infra-dev", B, RunType.PROPOSED)}


def test_new_branch_without_commits_changes_nothing() -> None:
    requests, outcome = runs(push("feature", before=ZERO_SHA, paths=frozenset()))
    assert requests == []
    assert outcome == "no files changed"


def test_branch_deletion_starts_nothing() -> None:
    event = push("main", after=ZERO_SHA, paths=frozenset())
    assert route(event, STACKS).reason == "branch deleted"
    assert runs(event) == ([], "branch deleted")


def test_push_to_project_without_stacks() -> None:
    event = PushEvent(project=ProjectRef(id=77, path="x/y"), branch="main", before=A, after=B,
                      user_username="alice", changed_paths=frozenset({"a.tf"}))
    assert runs(event) == ([], "no stack watches project 77")


def test_ignored_event_reason_is_the_outcome() -> None:
    assert runs(IgnoredEvent(reason="pipeline events are not acted on")) == (
        [], "pipeline events are not acted on")


# --- tags and modules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["v1.2.3", "1.2.3", "v2.0.0-rc.1"])
def test_semver_tag_tests_the_module_on_the_tagged_commit(tag: str) -> None:
    event = TagPushEvent(project=PROJECT, tag=tag, before=ZERO_SHA, after=C, user_username="alice",
                         checkout_sha=D)
    requests, outcome = runs(event)
    assert requests == [
        RunRequest(stack="vpc", type=RunType.TEST, trigger=Trigger.TAG, commit_sha=D, ref=tag)]
    assert outcome == "1 run: vpc (test)"


@pytest.mark.parametrize("tag", ["v1.32", "release-1", "v1.2.3.4", "01.2.3"])
def test_other_tags_start_nothing(tag: str) -> None:
    event = TagPushEvent(project=PROJECT, tag=tag, before=ZERO_SHA, after=C, user_username="alice")
    assert runs(event) == ([], f"tag {tag} is not a semver version")


def test_tags_never_run_stacks() -> None:
    event = TagPushEvent(project=PROJECT, tag="v1.0.0", before=ZERO_SHA, after=C, user_username="alice")
    requests, outcome = runs(event, stacks=[PROD, DEV])
    assert requests == []
    assert outcome == "tag pushes only test modules, and no module watches project 12"


def test_tag_deletion_starts_nothing() -> None:
    event = TagPushEvent(project=PROJECT, tag="v1.0.0", before=C, after=ZERO_SHA, user_username="alice")
    assert runs(event) == ([], "tag deleted")


def test_pushes_do_not_run_modules() -> None:
    requests, _ = runs(push("main", paths=frozenset({"anything.tf"})), stacks=[MODULE])
    assert requests == []


# --- merge requests -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "oldrev"), [("open", None), ("reopen", None), ("update", A)])
def test_merge_request_with_code_is_a_proposed_run(action: str, oldrev: str | None) -> None:
    event = merge_request(action, oldrev=oldrev)
    routing = route(event, STACKS)
    assert routing.paths_query == MergeRequestChangesQuery(project_id=12, iid=7)
    requests, _ = decide(event, routing, frozenset({"infra/prod/main.tf"}))
    assert requests == [RunRequest(stack="infra-prod", type=RunType.PROPOSED, trigger=Trigger.MERGE_REQUEST,
                                   commit_sha=B, ref="feature", merge_request_iid=7)]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (merge_request("update"), "merge request update without new commits starts nothing"),
        (merge_request("close", state="closed"), "merge request is closed"),
        (merge_request("merge", state="merged"), "merge request is merged"),
        (merge_request("approved"), "merge request action 'approved' starts nothing"),
        (merge_request(""), "merge request event without an action starts nothing"),
    ],
)
def test_merge_request_without_new_code_starts_nothing(event: MergeRequestEvent, reason: str) -> None:
    assert runs(event, frozenset({"infra/prod/main.tf"})) == ([], reason)


def test_draft_merge_request_runs_like_any_other() -> None:
    requests, _ = runs(merge_request("open", draft=True), frozenset({"infra/dev/a.tf"}))
    assert triples(requests) == {("infra-dev", B, RunType.PROPOSED)}


def test_push_and_the_merge_request_updates_it_causes_ask_for_one_run() -> None:
    paths = frozenset({"infra/prod/main.tf"})
    from_push, _ = runs(push("feature", before=A, after=B, paths=paths))
    from_update, _ = runs(merge_request("update", oldrev=A, head=B), paths)
    from_title_edit, _ = runs(merge_request("update", head=B), paths)
    everything = from_push + from_update + from_title_edit
    assert triples(everything) == {("infra-prod", B, RunType.PROPOSED)}
    assert from_title_edit == []


def test_fork_merge_request_is_blocked_unless_the_stack_allows_forks() -> None:
    allowing = StackSpec(name="sandbox", integration="gl", project_id=12, branch="main", allow_forks=True)
    event = merge_request("open", source_project_id=FORK_ID)
    requests, outcome = runs(event, frozenset({"infra/prod/main.tf"}), stacks=[PROD, allowing])
    by_stack = {r.stack: r for r in requests}
    assert by_stack["infra-prod"].blocked_reason == FORK_BLOCKED
    assert by_stack["sandbox"].blocked_reason is None
    assert all(r.from_fork and r.ref == "refs/merge-requests/7/head" for r in requests)
    assert outcome == f"1 run: sandbox (proposed); 1 blocked: infra-prod ({FORK_BLOCKED})"


def test_only_blocked_runs_are_reported_as_such() -> None:
    _, outcome = runs(merge_request("open", source_project_id=FORK_ID), frozenset({"infra/prod/a"}))
    assert outcome == f"1 blocked: infra-prod ({FORK_BLOCKED})"


# --- notes --------------------------------------------------------------------------------------------

def test_plan_note_plans_every_affected_stack() -> None:
    event = note("/stackyard plan\nplease")
    routing = route(event, STACKS)
    assert routing.paths_query == MergeRequestChangesQuery(project_id=12, iid=7)
    requests, _ = decide(event, routing, frozenset({"infra/prod/a.tf", "infra/dev/b.tf"}))
    assert triples(requests) == {("infra-prod", B, RunType.PROPOSED), ("infra-dev", B, RunType.PROPOSED)}
    assert {(r.trigger, r.merge_request_iid, r.ref) for r in requests} == {(Trigger.NOTE, 7, "feature")}


def test_plan_note_naming_a_stack_plans_it_whatever_changed() -> None:
    event = note("  /stackyard plan infra-dev  ")
    routing = route(event, STACKS)
    assert routing.paths_query is None
    requests, _ = decide(event, routing, frozenset({"docs/readme.md"}))
    assert triples(requests) == {("infra-dev", B, RunType.PROPOSED)}


def test_plan_note_naming_an_unknown_stack() -> None:
    assert runs(note("/stackyard plan nope")) == ([], "no stack named nope watches project 12")


@pytest.mark.parametrize(
    "body", ["lgtm", "please\n/stackyard plan", "/stackyard apply", "/stackyard plan a b"])
def test_other_notes_start_nothing(body: str) -> None:
    assert runs(note(body)) == ([], "notes other than /stackyard plan start nothing")


@pytest.mark.parametrize("author", ["project_12_bot_3f2a9c", "group_4_bot_ab12", "project12_bot3"])
def test_notes_from_bot_users_start_nothing(author: str) -> None:
    requests, outcome = runs(note("/stackyard plan", author=author))
    assert requests == []
    assert outcome == f"notes written by bot user {author} start nothing"


def test_plan_note_on_fork_merge_request_is_blocked() -> None:
    requests, _ = runs(note("/stackyard plan infra-prod", source_project_id=FORK_ID))
    assert [r.blocked_reason for r in requests] == [FORK_BLOCKED]


def test_notes_on_issues_start_nothing() -> None:
    event = NoteEvent(project=PROJECT, noteable_type="Issue", body="/stackyard plan", author_username="alice")
    assert runs(event) == ([], "notes on Issue start nothing")


def test_helpers() -> None:
    assert plan_command("/stackyard plan") is not None
    assert plan_command("") is None
    assert not is_bot_username("alice")
    assert not is_bot_username("project_bot")


# --- uniqueness ---------------------------------------------------------------------------------------

shas = st.sampled_from([A, B, C, ZERO_SHA])
names = st.sampled_from(["s1", "s2", "s3"])
branches = st.sampled_from(["main", "dev", "feature"])
paths = st.frozensets(st.sampled_from(["infra/a.tf", "infra/b/c.tf", "mod/x.tf", "README.md"]), max_size=4)
stack_specs = st.builds(
    StackSpec, name=names, integration=st.just("gl"), project_id=st.sampled_from([12, 13]), branch=branches,
    project_root=st.sampled_from(["", "infra", "./infra/b/", "mod"]),
    watched_paths=st.lists(st.sampled_from(["mod/*", "README.md"]), max_size=2).map(tuple),
    allow_forks=st.booleans(), kind=st.sampled_from(["stack", "module"]),
)
events = st.one_of(
    st.builds(PushEvent, project=st.just(PROJECT), branch=branches, before=shas, after=shas,
              user_username=st.just("u"), changed_paths=st.none() | paths),
    st.builds(TagPushEvent, project=st.just(PROJECT), tag=st.sampled_from(["v1.0.0", "2.1.0", "x"]),
              before=shas, after=shas, user_username=st.just("u"), checkout_sha=st.none() | shas),
    st.builds(MergeRequestEvent, project=st.just(PROJECT), iid=st.integers(1, 3),
              action=st.sampled_from(["open", "reopen", "update", "close", "merge", ""]),
              state=st.sampled_from(["opened", "closed"]), source_branch=branches, target_branch=branches,
              source_project_id=st.sampled_from([12, FORK_ID]), head_sha=shas, user_username=st.just("u"),
              oldrev=st.none() | shas, draft=st.booleans()),
    st.builds(NoteEvent, project=st.just(PROJECT), noteable_type=st.sampled_from(["MergeRequest", "Issue"]),
              body=st.sampled_from(["/stackyard plan", "/stackyard plan s1", "hi"]),
              author_username=st.sampled_from(["u", "project_12_bot_ab"]),
              merge_request_iid=st.integers(1, 3),
              source_branch=branches, source_project_id=st.sampled_from([12, FORK_ID]), head_sha=shas),
)


@settings(max_examples=500)
@given(event=events, stacks=st.lists(stack_specs, max_size=6), fetched=st.none() | paths)
def test_decide_never_asks_twice_for_the_same_run(
    event: Event, stacks: list[StackSpec], fetched: frozenset[str] | None
) -> None:
    routing = route(event, stacks)
    requests, outcome = decide(event, routing, fetched)
    keys = [(r.stack, r.commit_sha, r.type) for r in requests]
    assert len(keys) == len(set(keys))
    assert outcome
    assert {r.stack for r in requests} <= {s.name for s in routing.candidates}
    assert all(r.from_fork for r in requests if r.blocked_reason is not None)


# --- untouched stacks (report_untouched) ---------------------------------------------------------

def test_untouched_candidates_are_the_stacks_a_change_did_not_concern() -> None:
    event = push("main", paths=frozenset({"infra/prod/main.tf"}))
    routing = route(event, STACKS)
    requests, _ = decide(event, routing, None)
    assert [(r.stack, r.commit_sha, r.ref) for r in untouched(event, routing, requests)] == [("infra-dev", B, "main")]
    merge = merge_request("open")
    merge_routing = route(merge, STACKS)
    merge_requests, _ = decide(merge, merge_routing, frozenset({"infra/dev/x.tf"}))
    assert [r.stack for r in untouched(merge, merge_routing, merge_requests)] == ["infra-prod"]


def test_deleted_branches_and_notes_leave_nothing_untouched() -> None:
    deleted = push("main", after="0" * 40, paths=frozenset())
    assert untouched(deleted, route(deleted, STACKS), []) == []
    asked = note("stackyard plan")
    assert untouched(asked, route(asked, STACKS), []) == []
