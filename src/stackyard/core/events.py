"""GitLab deliveries as plain values: what the worker routes to stacks."""

from __future__ import annotations

from dataclasses import dataclass, field

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class ProjectRef:
    """The GitLab project an event happened in (for merge requests: the target project)."""

    id: int
    path: str
    web_url: str = ""


@dataclass(frozen=True)
class PushEvent:
    project: ProjectRef
    branch: str
    before: str
    after: str
    user_username: str
    # Paths touched by the pushed commits; None when GitLab cut the commit list (it sends at most 20)
    # so the caller must ask the compare API.
    changed_paths: frozenset[str] | None
    total_commits_count: int = 0

    @property
    def created(self) -> bool:
        return self.before == ZERO_SHA

    @property
    def deleted(self) -> bool:
        return self.after == ZERO_SHA


@dataclass(frozen=True)
class TagPushEvent:
    project: ProjectRef
    tag: str
    before: str
    after: str
    user_username: str
    # For an annotated tag `after` is the tag object; commit statuses and checkouts need the commit
    # it points at (GITLAB.md B3: `checkout_sha`). None when the tag was deleted.
    checkout_sha: str | None = None

    @property
    def deleted(self) -> bool:
        return self.after == ZERO_SHA


@dataclass(frozen=True)
class MergeRequestEvent:
    project: ProjectRef
    iid: int
    action: str
    state: str
    source_branch: str
    target_branch: str
    source_project_id: int
    head_sha: str
    user_username: str
    # Set only when the update pushed new commits (GitLab omits it on metadata-only updates).
    oldrev: str | None = None
    draft: bool = False

    @property
    def from_fork(self) -> bool:
        return self.source_project_id != self.project.id


@dataclass(frozen=True)
class NoteEvent:
    project: ProjectRef
    noteable_type: str
    body: str
    author_username: str
    merge_request_iid: int | None = None
    source_branch: str | None = None
    source_project_id: int | None = None
    head_sha: str | None = None


@dataclass(frozen=True)
class IgnoredEvent:
    """A delivery Stackyard acknowledges but does not act on, with the reason shown to users."""

    reason: str
    event: str = ""
    details: dict[str, str] = field(default_factory=dict)


Event = PushEvent | TagPushEvent | MergeRequestEvent | NoteEvent | IgnoredEvent
