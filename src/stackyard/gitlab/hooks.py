"""The one project hook Stackyard wants, and how to get from what a project has to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# SPEC "Project hook": push, tag push, merge request and note events on, SSL verification on.
# Everything else off, so GitLab does not spend deliveries (and rate limit, A7) on events we ignore.
WANTED_EVENTS: dict[str, bool] = {
    "push_events": True,
    "tag_push_events": True,
    "merge_requests_events": True,
    "note_events": True,
    "enable_ssl_verification": True,
    "confidential_note_events": False,
    "issues_events": False,
    "confidential_issues_events": False,
    "job_events": False,
    "pipeline_events": False,
    "wiki_page_events": False,
    "deployment_events": False,
    "releases_events": False,
    "feature_flag_events": False,
    "emoji_events": False,
    "resource_access_token_events": False,
}


def same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _created_key(hook: Mapping[str, Any]) -> tuple[str, int]:
    return (str(hook.get("created_at") or ""), int(hook["id"]))


@dataclass(frozen=True)
class HookPlan:
    """What to do: create, or keep `keep_id` (changing `changes`) and delete `delete_ids`."""

    keep_id: int | None
    changes: dict[str, Any] = field(default_factory=dict)
    delete_ids: tuple[int, ...] = ()


def plan_hook(
    hooks: Sequence[Mapping[str, Any]],
    *,
    url: str,
    token: str | None,
    signing_token: str | None = None,
    known_id: int | None = None,
) -> HookPlan:
    """Compare the project's hooks (as GitLab lists them) with the one we want.

    Only fields GitLab shows are compared: older versions lack some event flags, and tokens are
    write-only (C5). From 19.0 `token_present` / `signing_token_present` reveal a missing token.
    A push branch filter would silently hide pushes to other branches, so it is cleared (A8).
    `known_id` is the hook Stackyard installed before: when the public URL has changed since, that
    hook still points at the old address, and is moved (or, if one already points at the new
    address, deleted) rather than left delivering beside a second one.
    """
    ours = sorted((h for h in hooks if same_url(str(h.get("url", "")), url)), key=_created_key)
    moved = [h for h in hooks if known_id is not None and int(h["id"]) == known_id and h not in ours]
    if not ours and not moved:
        return HookPlan(keep_id=None)
    keep, duplicates = (ours[0], ours[1:] + moved) if ours else (moved[0], [])
    changes: dict[str, Any] = {
        name: wanted for name, wanted in WANTED_EVENTS.items() if name in keep and keep[name] != wanted
    }
    if not same_url(str(keep.get("url", "")), url):
        changes["url"] = url
    strategy = keep.get("branch_filter_strategy")
    if strategy != "all_branches":
        # A blank filter means every branch only under `wildcard` (A8).
        if keep.get("push_events_branch_filter"):
            changes["push_events_branch_filter"] = ""
        if strategy is not None and strategy != "wildcard":
            changes["branch_filter_strategy"] = "wildcard"
    if token and keep.get("token_present") is False:
        changes["token"] = token
    if signing_token and keep.get("signing_token_present") is False:
        changes["signing_token"] = signing_token
    return HookPlan(
        keep_id=int(keep["id"]),
        changes=changes,
        delete_ids=tuple(int(h["id"]) for h in duplicates),
    )


def create_attributes(*, url: str, token: str | None, signing_token: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"url": url, **WANTED_EVENTS}
    if token:
        attrs["token"] = token
    if signing_token:
        # Ignored silently before GitLab 19.0 (A4).
        attrs["signing_token"] = signing_token
    return attrs


def repair_attributes(
    plan: HookPlan, *, url: str, token: str | None, signing_token: str | None
) -> dict[str, Any]:
    """PUT needs `url` (C5), and since a URL change resets the write-only token, always resend it."""
    attrs: dict[str, Any] = {**plan.changes, "url": url}
    if token:
        attrs["token"] = token
    if signing_token:
        attrs["signing_token"] = signing_token
    return attrs
