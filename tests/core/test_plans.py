"""Plan summaries from recorded tool output.

The terraform-*.json and terraform-*.plan.txt files in tests/runner/data are real output of
Terraform 1.11.4 (`terraform show -json` / `show -no-color` of a saved plan), recorded with
tests/runner/data/generate_terraform_plans.sh. OpenTofu writes the same JSON format. No test
here needs terraform installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackyard.core.plans import (
    PlanSummary,
    summary_from_ansible_recap,
    summary_from_plan_text,
    summary_from_tofu_show_json,
)

DATA = Path(__file__).parent.parent / "runner" / "data"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / f"terraform-{name}.json").read_text())
    return doc


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("create", PlanSummary(add=1, change=0, destroy=0)),
        ("update", PlanSummary(add=0, change=1, destroy=0)),
        ("delete", PlanSummary(add=0, change=0, destroy=1)),
        ("replace-delete-create", PlanSummary(add=1, change=0, destroy=1)),
        ("replace-create-delete", PlanSummary(add=1, change=0, destroy=1)),
        ("noop", PlanSummary(add=0, change=0, destroy=0)),
        ("read", PlanSummary(add=1, change=0, destroy=0)),
        ("mixed", PlanSummary(add=4, change=1, destroy=3)),
        ("empty", PlanSummary(add=0, change=0, destroy=0)),
    ],
)
def test_recorded_plan_json_and_plan_text_agree(scenario: str, expected: PlanSummary) -> None:
    assert summary_from_tofu_show_json(load(scenario)) == expected
    # Terraform's own "Plan: N to add" line must tell the same story as our count.
    plan_text = (DATA / f"terraform-{scenario}.plan.txt").read_text()
    assert summary_from_plan_text(plan_text) == expected


def test_recorded_read_has_a_data_source_that_is_not_counted() -> None:
    doc = load("read")
    assert any(
        entry["mode"] == "data" and entry["change"]["actions"] == ["read"]
        for entry in doc["resource_changes"]
    )


def test_recorded_replace_orders_are_the_two_terraform_uses() -> None:
    orders = {
        tuple(entry["change"]["actions"])
        for name in ("replace-delete-create", "replace-create-delete")
        for entry in load(name)["resource_changes"]
    }
    assert {("delete", "create"), ("create", "delete")} <= orders


ACTIONS = {
    "create": ["create"],
    "update": ["update"],
    "delete": ["delete"],
    "replace_dc": ["delete", "create"],
    "replace_cd": ["create", "delete"],
    "noop": ["no-op"],
    "read": ["read"],
    "forget": ["forget"],
}


@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(ACTIONS)), st.sampled_from(["managed", "data"])),
        max_size=40,
    )
)
def test_counts_match_the_number_of_each_action_kind(entries: list[tuple[str, str]]) -> None:
    doc = {
        "resource_changes": [
            {"address": f"x.r{index}", "mode": mode, "change": {"actions": ACTIONS[kind]}}
            for index, (kind, mode) in enumerate(entries)
        ]
    }
    managed = [kind for kind, mode in entries if mode == "managed"]
    replaces = managed.count("replace_dc") + managed.count("replace_cd")
    assert summary_from_tofu_show_json(doc) == PlanSummary(
        add=managed.count("create") + replaces,
        change=managed.count("update"),
        destroy=managed.count("delete") + replaces,
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"resource_changes": {}},
        {"resource_changes": ["x"]},
        {"resource_changes": [{"mode": "managed", "change": {}}]},
        {"resource_changes": [{"mode": "managed", "change": {"actions": "create"}}]},
    ],
)
def test_malformed_plan_json_is_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        summary_from_tofu_show_json(doc)


@pytest.mark.parametrize(
    ("summary", "short", "described"),
    [
        (PlanSummary(0, 0, 0), "+0 ~0 -0", "no changes"),
        (PlanSummary(1, 0, 0), "+1 ~0 -0", "would add 1 resource"),
        (PlanSummary(0, 3, 0), "+0 ~3 -0", "would change 3 resources"),
        (PlanSummary(0, 0, 1), "+0 ~0 -1", "would destroy 1 resource"),
        (PlanSummary(1, 1, 0), "+1 ~1 -0", "would add 1 and change 1 resources"),
        (PlanSummary(2, 1, 1), "+2 ~1 -1", "would add 2, change 1 and destroy 1 resources"),
        (PlanSummary(0, 5, 2), "+0 ~5 -2", "would change 5 and destroy 2 resources"),
    ],
)
def test_formatting(summary: PlanSummary, short: str, described: str) -> None:
    assert summary.format_short() == short
    assert summary.describe() == described
    assert summary.is_empty == (described == "no changes")


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
def test_dict_round_trip_and_short_text(add: int, change: int, destroy: int) -> None:
    summary = PlanSummary(add=add, change=change, destroy=destroy)
    assert PlanSummary.from_dict(summary.as_dict()) == summary
    # A commit status description holds at most 255 characters.
    assert len(f"{summary.format_short()} {summary.describe()}") < 255


@pytest.mark.parametrize(
    "data",
    [
        {"add": -1, "change": 0, "destroy": 0},
        {"add": 1.0, "change": 0, "destroy": 0},
        {"add": "1", "change": 0, "destroy": 0},
        {"add": True, "change": 0, "destroy": 0},
        {"add": 1, "change": 0},
        [1, 0, 0],
    ],
)
def test_from_dict_refuses_what_is_not_a_count(data: Any) -> None:
    with pytest.raises(ValueError):
        PlanSummary.from_dict(data)


RECAP = """\
PLAY [all] *********************************************************************

TASK [write] *******************************************************************
changed: [web1]
ok: [web2]

PLAY RECAP *********************************************************************
web1                       : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
web2                       : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
db.example.com             : ok=5    changed=3    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0

"""


def test_ansible_recap_sums_changed_over_hosts() -> None:
    assert summary_from_ansible_recap(RECAP) == PlanSummary(add=0, change=4, destroy=0)


def test_ansible_recap_with_colour_codes() -> None:
    coloured = "PLAY RECAP ***\n\x1b[0;33mhost\x1b[0m : \x1b[0;32mok=1\x1b[0m    \x1b[0;33mchanged=2\x1b[0m\n"
    assert summary_from_ansible_recap(coloured).change == 2


def test_ansible_output_without_recap_is_an_error() -> None:
    with pytest.raises(ValueError, match="PLAY RECAP"):
        summary_from_ansible_recap("ERROR! the playbook: site.yml could not be found\n")


def test_plan_text_without_totals_is_an_error() -> None:
    with pytest.raises(ValueError):
        summary_from_plan_text("Error: Invalid reference\n")
