"""The parser never raises: random and mutated deliveries always become some event."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackyard.core.events import (
    IgnoredEvent,
    MergeRequestEvent,
    NoteEvent,
    PushEvent,
    TagPushEvent,
)
from stackyard.gitlab.parse import parse_delivery

EVENT_TYPES = (PushEvent, TagPushEvent, MergeRequestEvent, NoteEvent, IgnoredEvent)
HEADERS = [None, "", "Push Hook", "Tag Push Hook", "Merge Request Hook", "Note Hook",
           "Confidential Note Hook", "Pipeline Hook", "System Hook", "Service Hook", "Nonsense"]
KINDS = ["push", "tag_push", "merge_request", "note", "pipeline", "release", "emoji", "issue"]
KEYS = ["object_kind", "before", "after", "ref", "project", "project_id", "id", "commits",
        "total_commits_count", "added", "modified", "removed", "object_attributes", "iid", "action",
        "last_commit", "oldrev", "source_branch", "source_project_id", "noteable_type", "note",
        "merge_request", "user", "username", "draft", "work_in_progress", "checkout_sha"]


def fixtures_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "gitlab-webhooks"
    if not path.is_dir():
        raise RuntimeError(f"GitLab webhook fixtures not found at {path.resolve()}")
    return path


FIXTURES = sorted(p for p in fixtures_dir().rglob("*.json"))

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["None", "", "0" * 40, "a" * 40, "refs/heads/main", "refs/tags/v1.2.3", "MergeRequest"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


def check_event(event: object) -> None:
    assert isinstance(event, EVENT_TYPES)
    if isinstance(event, IgnoredEvent):
        assert event.reason
    else:
        assert isinstance(event.project.id, int)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.sampled_from(HEADERS) | st.text(max_size=15),
    kind=st.sampled_from(KINDS) | json_values,
    rest=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=8),
)
def test_arbitrary_json_objects_never_raise(header: str | None, kind: Any, rest: dict[str, Any]) -> None:
    check_event(parse_delivery(header, {**rest, "object_kind": kind}))


def locations(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found.extend(locations(child, (*prefix, key)))
    return found


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_fixtures_never_raise(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(FIXTURES))
    body = json.loads(path.read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        spots = locations(body)
        if not spots:
            break
        spot = data.draw(st.sampled_from(spots))
        parent = body
        for key in spot[:-1]:
            parent = parent[key]
        operation = data.draw(st.sampled_from(["remove", "null", "none string", "replace"]))
        if operation == "remove":
            del parent[spot[-1]]
        elif operation == "null":
            parent[spot[-1]] = None
        elif operation == "none string":
            parent[spot[-1]] = "None"
        else:
            parent[spot[-1]] = data.draw(json_values)
    header = data.draw(st.sampled_from(HEADERS))
    check_event(parse_delivery(header, copy.deepcopy(body)))
