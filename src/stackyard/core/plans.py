"""Plan summaries: how many resources a run would add, change and destroy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PlanSummary",
    "summary_from_ansible_recap",
    "summary_from_plan_text",
    "summary_from_tofu_show_json",
]


@dataclass(frozen=True)
class PlanSummary:
    add: int
    change: int
    destroy: int

    def __post_init__(self) -> None:
        for name in ("add", "change", "destroy"):
            value = getattr(self, name)
            # bool is an int subclass; True as a count is always a bug upstream.
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"plan summary {name!r} must be a non-negative integer, got {value!r}")

    @property
    def is_empty(self) -> bool:
        return self.add == 0 and self.change == 0 and self.destroy == 0

    def as_dict(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "destroy": self.destroy}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanSummary:
        """Read the shape a `commands` plan writes to $STACKYARD_PLAN_SUMMARY, so it is validated here."""
        if not isinstance(data, Mapping):
            raise ValueError(f"plan summary must be a JSON object, got {type(data).__name__}")
        missing = [key for key in ("add", "change", "destroy") if key not in data]
        if missing:
            raise ValueError(f"plan summary is missing {', '.join(missing)}")
        return cls(add=data["add"], change=data["change"], destroy=data["destroy"])

    def format_short(self) -> str:
        return f"+{self.add} ~{self.change} -{self.destroy}"

    def describe(self) -> str:
        """Say it the way a commit status description can: short, and with the right plural."""
        parts = [
            (verb, count)
            for verb, count in (("add", self.add), ("change", self.change), ("destroy", self.destroy))
            if count
        ]
        if not parts:
            return "no changes"
        if len(parts) == 1:
            verb, count = parts[0]
            return f"would {verb} {count} {'resource' if count == 1 else 'resources'}"
        phrases = [f"{verb} {count}" for verb, count in parts]
        return f"would {', '.join(phrases[:-1])} and {phrases[-1]} resources"


# Actions as documented for `resource_changes[].change.actions` in
# https://developer.hashicorp.com/terraform/internals/json-format#change-representation
# ("forget" arrived in Terraform 1.7 for `removed` blocks: the object leaves state, nothing is destroyed).
_REPLACE_ORDERS = (("delete", "create"), ("create", "delete"))


def summary_from_tofu_show_json(doc: Mapping[str, Any]) -> PlanSummary:
    """Count like `tofu plan`'s "Plan: N to add" line does, from `show -json` of a saved plan.

    Data sources are skipped: a deferred read is not a change to infrastructure. Unknown action
    lists count nothing, so a newer OpenTofu with a new action kind still yields a summary.
    """
    if not isinstance(doc, Mapping):
        raise ValueError("plan JSON must be an object")
    # Absent when the configuration has no resources at all.
    changes = doc.get("resource_changes")
    if changes is None:
        changes = []
    if not isinstance(changes, list):
        raise ValueError("plan JSON 'resource_changes' must be a list")
    add = change = destroy = 0
    for index, entry in enumerate(changes):
        if not isinstance(entry, Mapping):
            raise ValueError(f"plan JSON resource_changes[{index}] must be an object")
        if entry.get("mode") == "data":
            continue
        body = entry.get("change")
        actions = body.get("actions") if isinstance(body, Mapping) else None
        if not isinstance(actions, list) or not all(isinstance(action, str) for action in actions):
            raise ValueError(f"plan JSON resource_changes[{index}].change.actions must be a list of strings")
        kinds = tuple(actions)
        if kinds == ("create",):
            add += 1
        elif kinds == ("update",):
            change += 1
        elif kinds == ("delete",):
            destroy += 1
        elif kinds in _REPLACE_ORDERS:
            add += 1
            destroy += 1
    return PlanSummary(add=add, change=change, destroy=destroy)


_PLAN_LINE = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.", re.MULTILINE)
_NO_CHANGES = re.compile(r"^No changes\.", re.MULTILINE)


def summary_from_plan_text(text: str) -> PlanSummary:
    """Fallback for when `show -json` is unavailable: read the human plan's own totals line."""
    match = _PLAN_LINE.search(text)
    if match:
        return PlanSummary(add=int(match[1]), change=int(match[2]), destroy=int(match[3]))
    if _NO_CHANGES.search(text):
        return PlanSummary(add=0, change=0, destroy=0)
    raise ValueError("no 'Plan:' or 'No changes.' line in the plan text")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RECAP_HEADER = re.compile(r"^PLAY RECAP\b")
_RECAP_HOST = re.compile(r"^\S.*?\s:\s+ok=\d+\s+changed=(\d+)\b")


def summary_from_ansible_recap(text: str) -> PlanSummary:
    """Ansible knows only "changed", so that is all a recap can say; hosts are summed."""
    changed = 0
    seen_recap = False
    in_recap = False
    for raw in text.splitlines():
        line = _ANSI.sub("", raw)
        if _RECAP_HEADER.match(line):
            seen_recap = in_recap = True
            continue
        if not in_recap:
            continue
        match = _RECAP_HOST.match(line)
        if match:
            changed += int(match[1])
        elif line.strip():
            in_recap = False
    if not seen_recap:
        raise ValueError("no PLAY RECAP in the ansible output")
    return PlanSummary(add=0, change=changed, destroy=0)
