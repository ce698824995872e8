"""What the services need from a forge (GitLab), as a Protocol over plain values and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

HookAction = Literal["created", "repaired", "unchanged"]


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    user: str | None
    scopes: tuple[str, ...]
    expires_at: str | None
    # Each problem is a sentence a person can act on, shown as is in the UI and the API.
    problems: tuple[str, ...]


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    path: str
    default_branch: str | None
    web_url: str


@dataclass(frozen=True)
class HookResult:
    hook_id: int
    action: HookAction
    removed_duplicates: int = 0


@dataclass(frozen=True)
class MergeRequestInfo:
    iid: int
    source_branch: str
    target_branch: str
    source_project_id: int
    head_sha: str
    state: str

    @property
    def opened(self) -> bool:
        return self.state == "opened"


@dataclass(frozen=True)
class DeploymentInfo:
    id: int
    sha: str
    ref: str
    status: str
    # Whether the token in use created it: only our own deployments are ours to adopt.
    ours: bool


class ForgeError(Exception):
    """Any failure talking to the forge; the subclass says what the caller may do about it."""

    permanent = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ForgeUnavailable(ForgeError):
    """Transient: 5xx, timeouts, connection errors, lock conflicts. Retrying later may work."""


class ForgeRateLimited(ForgeError):
    def __init__(self, message: str, status: int | None = 429, *, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ForgeRefused(ForgeError):
    """The forge understood and said no (400/403/404/422): retrying the same call won't help."""

    permanent = True


class StatusTransitionRefused(ForgeRefused):
    """GitLab's commit status state machine said no (GITLAB.md C1); `current` is the state it holds."""

    def __init__(self, message: str, status: int | None = 400, *, current: str | None = None) -> None:
        super().__init__(message, status)
        self.current = current


class ForgeAuthError(ForgeError):
    """The token stopped working (401): nothing will work until someone replaces it."""

    permanent = True


class Forge(Protocol):
    def check_token(self) -> TokenCheck: ...

    def project(self, ref: int | str) -> ProjectInfo: ...

    def ensure_hook(
        self,
        project_id: int,
        *,
        url: str,
        token: str | None,
        signing_token: str | None = None,
        known_id: int | None = None,
    ) -> HookResult: ...

    def remove_hook(self, project_id: int, url: str, *, known_id: int | None = None) -> int: ...

    def set_commit_status(
        self,
        project_id: int | str,
        sha: str,
        *,
        name: str,
        state: str,
        ref: str | None,
        target_url: str | None,
        description: str | None,
    ) -> None: ...

    def find_note(self, project_id: int, iid: int, *, marker: str) -> int | None: ...

    def create_note(self, project_id: int, iid: int, body: str) -> int: ...

    def update_note(self, project_id: int, iid: int, note_id: int, body: str) -> None: ...

    def upsert_note(
        self, project_id: int, iid: int, *, marker: str, body: str, note_id: int | None
    ) -> int: ...

    def open_merge_requests(
        self, project_id: int, *, source_branch: str, head_sha: str | None = None
    ) -> list[MergeRequestInfo]: ...

    def merge_request(self, project_id: int, iid: int) -> MergeRequestInfo: ...

    def merge_request_changed_paths(self, project_id: int, iid: int) -> frozenset[str]: ...

    def changed_paths(self, project_id: int, from_sha: str, to_sha: str) -> frozenset[str]: ...

    def ensure_environment(self, project_id: int, *, name: str, external_url: str) -> int: ...

    def create_deployment(
        self, project_id: int, *, environment: str, sha: str, ref: str, status: str, tag: bool = False
    ) -> int: ...

    def update_deployment(self, project_id: int, deployment_id: int, status: str) -> None: ...

    def running_deployments(
        self, project_id: int, *, environment: str, updated_after: datetime
    ) -> list[DeploymentInfo]: ...

    def commit_sha(self, project_id: int, ref: str) -> str: ...

    def tag_commit_sha(self, project_id: int, tag: str) -> str: ...

    def download_archive(self, project_id: int, sha: str, dest: Path) -> None: ...
