"""The rows the GitLab double keeps in memory: plain dataclasses, no behaviour."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ZERO_SHA = "0" * 40


@dataclass
class User:
    id: int
    username: str
    name: str
    email: str
    public_email: str | None = None
    bot: bool = False
    state: str = "active"
    created_at: str = ""


@dataclass
class Token:
    id: int
    token: str
    user_id: int
    name: str
    scopes: tuple[str, ...]
    expires_at: str | None
    revoked: bool = False
    created_at: str = ""


@dataclass
class Commit:
    sha: str
    parents: tuple[str, ...]
    tree: dict[str, str]
    message: str
    author_id: int
    timestamp: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass
class Tag:
    name: str
    target: str
    """SHA of the tag object for annotated tags, else of the commit (GITLAB.md B3)."""
    commit_sha: str
    message: str | None


@dataclass
class Project:
    id: int
    path_with_namespace: str
    default_branch: str
    description: str = ""
    visibility_level: int = 0
    only_allow_merge_if_pipeline_succeeds: bool = False
    allow_merge_on_skipped_pipeline: bool = False
    forked_from_id: int | None = None
    created_at: str = ""
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    shas: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[-1]

    @property
    def namespace_path(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[0] if "/" in self.path_with_namespace else ""


@dataclass
class Pipeline:
    id: int
    iid: int
    project_id: int
    sha: str
    ref: str
    source: str
    created_at: str
    user_id: int


@dataclass
class CommitStatus:
    id: int
    project_id: int
    pipeline_id: int
    sha: str
    ref: str
    name: str
    status: str
    user_id: int
    target_url: str | None
    description: str | None
    coverage: float | None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    retried: bool = False


@dataclass
class MergeRequest:
    id: int
    iid: int
    project_id: int
    source_project_id: int
    source_branch: str
    target_branch: str
    title: str
    description: str
    author_id: int
    state: str
    head_sha: str
    created_at: str
    updated_at: str
    labels: list[str] = field(default_factory=list)
    merge_commit_sha: str | None = None
    merged_at: str | None = None
    merge_user_id: int | None = None
    closed_at: str | None = None
    closed_by_id: int | None = None
    updated_by_id: int | None = None

    @property
    def draft(self) -> bool:
        # Draft is a title prefix (GITLAB.md B4).
        lowered = self.title.lower()
        return lowered.startswith(("draft:", "[draft]", "(draft)"))


@dataclass
class Note:
    id: int
    project_id: int
    mr_iid: int
    noteable_id: int
    body: str
    author_id: int
    system: bool
    internal: bool
    created_at: str
    updated_at: str


@dataclass
class Environment:
    id: int
    project_id: int
    name: str
    slug: str
    external_url: str | None
    tier: str
    description: str | None
    state: str
    created_at: str
    updated_at: str


@dataclass
class Deployment:
    id: int
    iid: int
    project_id: int
    environment_id: int
    sha: str
    ref: str
    tag: bool
    status: str
    user_id: int
    created_at: str
    updated_at: str
    finished_at: str | None = None


@dataclass
class Hook:
    id: int
    project_id: int
    url: str
    token: str | None
    signing_token: str | None
    created_at: str
    options: dict[str, Any]
    custom_headers: dict[str, str] = field(default_factory=dict)
    consecutive_failures: int = 0
    disabled_until: float | None = None
    permanently_disabled: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    """The raw, still-encoded path, as GitLab's router sees it."""
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int
    user: str | None


@dataclass
class Delivery:
    hook_id: int | None
    url: str
    event: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    error: str | None = None
    response_body: str = ""

    @property
    def payload(self) -> Any:
        return json.loads(self.body)
