"""Every stored GitLab webhook fixture in, this event out: the parse table's contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackyard.core.events import (
    ZERO_SHA,
    IgnoredEvent,
    MergeRequestEvent,
    NoteEvent,
    PushEvent,
    TagPushEvent,
)
from stackyard.gitlab.parse import parse_delivery


def fixtures_dir() -> Path:
    """The shared corpus lives beside the repository: /work/main/.. /shared/fixtures/gitlab-webhooks."""
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "gitlab-webhooks"
    if not path.is_dir():
        raise RuntimeError(f"GitLab webhook fixtures not found at {path.resolve()}")
    return path


def fixture_names() -> list[str]:
    root = fixtures_dir()
    # SOURCES.md documents the corpus; every other file is a delivery body.
    files = (p for p in root.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    return sorted(p.relative_to(root).as_posix() for p in files)


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((fixtures_dir() / name).read_text(encoding="utf-8"))
    return body


PUSH, TAG, MR, NOTE = "Push Hook", "Tag Push Hook", "Merge Request Hook", "Note Hook"
PIPELINE = "pipeline events are not acted on"

# fixture -> (X-Gitlab-Event, event type, fields expected on the event; dotted names reach into project)
EXPECTED: dict[str, tuple[str, type, dict[str, Any]]] = {
    "drone-go-scm/mr_close.json": (MR, MergeRequestEvent, {
        "project.id": 4861503, "iid": 1, "action": "close", "state": "closed", "oldrev": None,
        "head_sha": "c4c79227ed610f1151f05bbc5be33b4f340d39c8", "from_fork": False}),
    "drone-go-scm/mr_merge.json": (MR, MergeRequestEvent, {
        "project.id": 4861503, "iid": 1, "action": "merge", "state": "merged", "oldrev": None}),
    "drone-go-scm/mr_open.json": (MR, MergeRequestEvent, {
        "project.id": 4861503, "project.path": "gitlab-org/hello-world", "iid": 1, "action": "open",
        "source_branch": "feature", "target_branch": "master", "source_project_id": 4861503,
        "head_sha": "c4c79227ed610f1151f05bbc5be33b4f340d39c8", "oldrev": None, "draft": False,
        "user_username": "sytses"}),
    "drone-go-scm/mr_reopen.json": (MR, MergeRequestEvent, {
        "project.id": 4861503, "iid": 1, "action": "reopen", "state": "opened", "oldrev": None}),
    "drone-go-scm/mr_update_marked_draft_no_oldrev.json": (MR, MergeRequestEvent, {
        "project.id": 44067058, "iid": 3, "action": "update", "oldrev": None, "draft": True,
        "source_branch": "main1234", "head_sha": "ffd71529ecdfb41a530ee13f91b8fdd3e743c754"}),
    "drone-go-scm/note_diffnote_on_mr_line.json": (NOTE, NoteEvent, {
        "project.id": 4861503, "noteable_type": "MergeRequest", "body": "check spelling",
        "merge_request_iid": 1, "source_branch": "feature", "source_project_id": 4861503,
        "head_sha": "c4c79227ed610f1151f05bbc5be33b4f340d39c8", "author_username": "sytses"}),
    "drone-go-scm/note_on_mr.json": (NOTE, NoteEvent, {
        "project.id": 4861503, "body": "lgtm", "merge_request_iid": 1,
        "head_sha": "c4c79227ed610f1151f05bbc5be33b4f340d39c8"}),
    "drone-go-scm/pipeline_success_mr_event.json": ("Pipeline Hook", IgnoredEvent, {"reason": PIPELINE}),
    "drone-go-scm/push_2_commits_merge.json": (PUSH, PushEvent, {
        "project.id": 4861503, "branch": "master", "before": "2adc9465c4edfc33834e173fe89436a7cb899a1d",
        "after": "78a76ee6b4992a6baf64c59fc4c44c7323d60438", "changed_paths": frozenset({"README.md"}),
        "total_commits_count": 2}),
    "drone-go-scm/push_create_branch.json": (PUSH, PushEvent, {
        "branch": "feature", "created": True, "deleted": False,
        "after": "c4c79227ed610f1151f05bbc5be33b4f340d39c8", "changed_paths": frozenset({"README.md"})}),
    "drone-go-scm/push_delete_branch.json": (PUSH, PushEvent, {
        "branch": "feature", "deleted": True, "after": ZERO_SHA, "changed_paths": frozenset()}),
    "drone-go-scm/push_nested_subgroup.json": (PUSH, PushEvent, {
        "project.id": 4861503, "project.path": "group1/group2/group3/grp2repo", "branch": "master",
        "after": "2adc9465c4edfc33834e173fe89436a7cb899a1d", "changed_paths": frozenset({"README.md"})}),
    "drone-go-scm/tag_push_create.json": (TAG, TagPushEvent, {
        "project.id": 4861503, "tag": "v1.0.0", "deleted": False,
        "after": "2adc9465c4edfc33834e173fe89436a7cb899a1d",
        "checkout_sha": "2adc9465c4edfc33834e173fe89436a7cb899a1d"}),
    "drone-go-scm/tag_push_delete.json": (TAG, TagPushEvent, {
        "tag": "v1.0.0", "deleted": True, "checkout_sha": None}),
    # GitLab's docs example: project.id 1 but target_project_id 14; the envelope's project wins,
    # so this reads as a merge request from a fork.
    "go-gitlab/mr_open_docs_example.json": (MR, MergeRequestEvent, {
        "project.id": 1, "iid": 1, "action": "open", "source_project_id": 14, "from_fork": True,
        "source_branch": "ms-viewport", "head_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}),
    "go-gitlab/mr_update_emoji_title_selfhosted.json": (MR, MergeRequestEvent, {
        "project.id": 2, "project.web_url": "http://10.40.8.5:3200/test/woodpecker", "iid": 2,
        "action": "update", "oldrev": "6ef047571374c96a2bf13c361efd1fb008b0063e",
        "head_sha": "0ab96a10266b95b4b533dcfd98738015fbe70889", "source_branch": "next-feature"}),
    "go-gitlab/note_on_mr_docs_example.json": (NOTE, NoteEvent, {
        "project.id": 5, "body": "This MR needs work.", "merge_request_iid": 1, "author_username": "root",
        "head_sha": "562e173be03b8ff2efb05345d12df18815438a4b"}),
    "go-gitlab/pipeline_docs_example.json": ("Pipeline Hook", IgnoredEvent, {"reason": PIPELINE}),
    # 2 commits listed, total_commits_count 4: the list was cut, so paths must come from compare.
    "go-gitlab/push_docs_example.json": (PUSH, PushEvent, {
        "project.id": 15, "branch": "master", "changed_paths": None, "total_commits_count": 4,
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22"}),
    "packit-service/mr_close_from_fork.json": (MR, MergeRequestEvent, {
        "project.id": 19258958, "iid": 19, "action": "close", "source_project_id": 35945041,
        "from_fork": True}),
    # packit stringified nulls ("None") and dropped `action`: still a merge request, with no action.
    "packit-service/mr_no_action_stringified_none.json": (MR, MergeRequestEvent, {
        "project.id": 18032222, "iid": 1, "action": "", "state": "opened", "oldrev": None, "draft": False,
        "head_sha": "1f6a716aa7a618a9ffe56970d77177d99d100022"}),
    "packit-service/mr_update_new_commits_oldrev.json": (MR, MergeRequestEvent, {
        "project.id": 18032222, "iid": 2, "action": "update",
        "oldrev": "94ccba9f986629e24b432c11d9c7fd20bb2ea51d",
        "head_sha": "45e272a57335e4e308f3176df6e9226a9e7805a9", "source_branch": "test1"}),
    "packit-service/note_on_commit_docs_example.json": (NOTE, IgnoredEvent, {
        "reason": "notes on commits are not acted on"}),
    "packit-service/note_on_issue.json": (NOTE, IgnoredEvent, {"reason": "notes on issues are not acted on"}),
    "packit-service/note_on_mr.json": (NOTE, NoteEvent, {
        "project.id": 18032222, "body": "must be reopened", "merge_request_iid": 2, "source_branch": "test1",
        "head_sha": "45e272a57335e4e308f3176df6e9226a9e7805a9"}),
    "packit-service/pipeline_failed_mr_from_fork.json": ("Pipeline Hook", IgnoredEvent, {"reason": PIPELINE}),
    "packit-service/pipeline_success_push.json": ("Pipeline Hook", IgnoredEvent, {"reason": PIPELINE}),
    "packit-service/push_1_commit.json": (PUSH, PushEvent, {
        "project.id": 18032222, "branch": "test2", "after": "cb2859505e101785097e082529dced35bbee0c8f",
        "changed_paths": frozenset({"README.md"}), "user_username": "shreyaspapi"}),
    "packit-service/push_3_commits_multiline_messages.json": (PUSH, PushEvent, {
        "project.id": 28084873, "branch": "c9s",
        "changed_paths": frozenset({".gitignore", ".gitlab-ci.yml", "open-vm-tools.spec", "sources"})}),
    "packit-service/push_branch_9_commits_with_merges.json": (PUSH, PushEvent, {
        "branch": "test", "changed_paths": frozenset({"README.md"}), "total_commits_count": 9}),
    "packit-service/release_create.json": ("Release Hook", IgnoredEvent, {
        "reason": "release events are not acted on (module versions come from tag pushes)"}),
    "packit-service/tag_push_create.json": (TAG, TagPushEvent, {
        "project.id": 34007140, "tag": "v1.32", "checkout_sha": "6147b3de219ecdda30ba727cf74a0414ca1e618a"}),
    "zulip/merge_request_approved.json": (MR, IgnoredEvent, {
        "reason": "merge request approvals are not acted on"}),
    "zulip/note_on_merge_request.json": (NOTE, NoteEvent, {
        "project.id": 46186758, "merge_request_iid": 1, "author_username": "sbansal1999",
        "head_sha": "b7d5e68a840f73be14f580e88bc8e37181805f64"}),
    # 2017 GitLab: no project.id (top-level project_id is used) and no user_username.
    "zulip/push_create_branch_no_commits.json": (PUSH, PushEvent, {
        "project.id": 3319043, "branch": "changes", "created": True, "user_username": "",
        "changed_paths": frozenset()}),
}


def field(event: object, dotted: str) -> Any:
    value = event
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def check(name: str, event: object) -> None:
    _, expected_type, fields = EXPECTED[name]
    assert type(event) is expected_type, event
    assert {key: field(event, key) for key in fields} == fields


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_parses_to_expected_event(name: str) -> None:
    assert name in EXPECTED, f"{name} has no expected outcome: add it to EXPECTED"
    header = EXPECTED[name][0]
    check(name, parse_delivery(header, load(name)))


@pytest.mark.parametrize("name", fixture_names())
def test_missing_header_falls_back_to_object_kind(name: str) -> None:
    if name not in EXPECTED:
        pytest.fail(f"{name} has no expected outcome: add it to EXPECTED")
    check(name, parse_delivery(None, load(name)))


def test_expected_table_names_only_existing_fixtures() -> None:
    assert set(EXPECTED) <= set(fixture_names())


@pytest.mark.parametrize("header", ["System Hook", "Service Hook"])
def test_envelope_headers_dispatch_on_object_kind(header: str) -> None:
    name = "go-gitlab/mr_update_emoji_title_selfhosted.json"
    check(name, parse_delivery(header, load(name)))


def test_header_that_contradicts_object_kind_is_ignored() -> None:
    event = parse_delivery("Push Hook", load("drone-go-scm/mr_open.json"))
    assert event == IgnoredEvent(
        reason="X-Gitlab-Event 'Push Hook' does not match object_kind 'merge_request'",
        event="Push Hook",
        details={"object_kind": "merge_request"},
    )


def test_confidential_note_on_merge_request_is_parsed() -> None:
    name = "drone-go-scm/note_on_mr.json"
    check(name, parse_delivery("Confidential Note Hook", load(name)))


def test_invalid_payload_of_handled_kind_names_the_problem() -> None:
    body = load("drone-go-scm/mr_open.json")
    body["object_attributes"]["iid"] = "seven"
    event = parse_delivery(MR, body)
    assert isinstance(event, IgnoredEvent)
    assert event.reason.startswith("could not parse merge request event: object_attributes.iid: ")


def test_commit_list_cut_at_twenty_asks_for_compare() -> None:
    body = load("packit-service/push_1_commit.json")
    body["total_commits_count"] = 21
    event = parse_delivery(PUSH, body)
    assert isinstance(event, PushEvent)
    assert event.changed_paths is None


def test_force_push_listing_no_commits_asks_for_compare() -> None:
    body = load("packit-service/push_1_commit.json")
    body["commits"], body["total_commits_count"] = [], 0
    event = parse_delivery(PUSH, body)
    assert isinstance(event, PushEvent)
    assert event.changed_paths is None


def test_blank_oldrev_means_no_new_commits() -> None:
    body = load("packit-service/mr_update_new_commits_oldrev.json")
    body["object_attributes"]["oldrev"] = ""
    event = parse_delivery(MR, body)
    assert isinstance(event, MergeRequestEvent)
    assert event.oldrev is None


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("emoji", "emoji events are not acted on"), ("build", "job events are not acted on"),
     ("something_new", "something new events are not acted on")],
)
def test_other_kinds_are_ignored_with_a_reason(kind: str, reason: str) -> None:
    event = parse_delivery(None, {"object_kind": kind})
    assert isinstance(event, IgnoredEvent)
    assert event.reason == reason
