"""Pydantic models of the GitLab webhook payloads Stackyard acts on (GITLAB.md B2-B5)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, model_validator

# GitLab repositories are SHA-1 (40 hex digits); the experimental SHA-256 format uses 64.
_SHA_PATTERN = r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$"
_STRINGIFIED_NULLS = frozenset({"None", "null"})


def _null_if_blank(value: Any) -> Any:
    """Captures post-processed by other tools (packit) turned null into the string "None"."""
    if isinstance(value, str) and (value.strip() == "" or value in _STRINGIFIED_NULLS):
        return None
    return value


def _list_if_null(value: Any) -> Any:
    return [] if value is None or (isinstance(value, str) and value in _STRINGIFIED_NULLS) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Sha = Annotated[str, BeforeValidator(_lower), StringConstraints(pattern=_SHA_PATTERN)]
OptionalSha = Annotated[Sha | None, BeforeValidator(_null_if_blank)]
OptionalStr = Annotated[str | None, BeforeValidator(_null_if_blank)]
OptionalInt = Annotated[int | None, BeforeValidator(_null_if_blank)]
OptionalBool = Annotated[bool | None, BeforeValidator(_null_if_blank)]
Paths = Annotated[list[str], BeforeValidator(_list_if_null)]


class _Payload(BaseModel):
    # GitLab adds fields in every release; unknown ones are not our concern.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProjectPayload(_Payload):
    """`Project#hook_attrs` (GITLAB.md B1); older GitLab (2017) sends no `id` here."""

    id: OptionalInt = None
    path_with_namespace: OptionalStr = None
    web_url: OptionalStr = None
    default_branch: OptionalStr = None


class UserPayload(_Payload):
    username: OptionalStr = None


class PushCommitPayload(_Payload):
    id: OptionalStr = None
    added: Paths = []
    modified: Paths = []
    removed: Paths = []


def _ref_with_prefix(prefix: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not value.startswith(prefix):
            raise ValueError(f"ref {value!r} does not start with {prefix!r}")
        return value

    return BeforeValidator(check)


class _RefPushPayload(_Payload):
    """The envelope push and tag push share (GITLAB.md B2, B3)."""

    before: Sha
    after: Sha
    checkout_sha: OptionalSha = None
    user_username: OptionalStr = None
    user_name: OptionalStr = None
    project_id: OptionalInt = None
    project: ProjectPayload | None = None
    commits: Annotated[list[PushCommitPayload], BeforeValidator(_list_if_null)] = []
    total_commits_count: OptionalInt = None

    @model_validator(mode="after")
    def _has_project_id(self) -> _RefPushPayload:
        if self.resolved_project_id is None:
            raise ValueError("neither project.id nor project_id is set")
        return self

    @property
    def resolved_project_id(self) -> int | None:
        return self.project.id if self.project and self.project.id is not None else self.project_id


class PushPayload(_RefPushPayload):
    ref: Annotated[str, _ref_with_prefix("refs/heads/"), StringConstraints(min_length=12)]

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/")


class TagPushPayload(_RefPushPayload):
    ref: Annotated[str, _ref_with_prefix("refs/tags/"), StringConstraints(min_length=11)]

    @property
    def tag(self) -> str:
        return self.ref.removeprefix("refs/tags/")


class LastCommitPayload(_Payload):
    id: Sha


class MergeRequestAttributes(_Payload):
    """`object_attributes` of a merge request hook (GITLAB.md B4)."""

    iid: int
    # Absent in some captures (packit's mr_event.json); treated as "no action".
    action: OptionalStr = None
    state: OptionalStr = None
    source_branch: Annotated[str, StringConstraints(min_length=1)]
    target_branch: OptionalStr = None
    source_project_id: int
    target_project_id: OptionalInt = None
    last_commit: LastCommitPayload
    # Only present when new commits were pushed; omitted if blank (GITLAB.md B4).
    oldrev: OptionalSha = None
    draft: OptionalBool = None
    work_in_progress: OptionalBool = None


class MergeRequestPayload(_Payload):
    user: UserPayload | None = None
    project: ProjectPayload
    object_attributes: MergeRequestAttributes

    @model_validator(mode="after")
    def _has_project_id(self) -> MergeRequestPayload:
        if self.project.id is None:
            raise ValueError("project.id is not set")
        return self


class NoteAttributes(_Payload):
    note: OptionalStr = None
    noteable_type: str


class NoteMergeRequest(_Payload):
    """The compact merge request a note on a merge request carries (GITLAB.md B5)."""

    iid: int
    source_branch: Annotated[str, StringConstraints(min_length=1)]
    source_project_id: int
    last_commit: LastCommitPayload | None = None


class MergeRequestNotePayload(_Payload):
    user: UserPayload | None = None
    project_id: OptionalInt = None
    project: ProjectPayload | None = None
    object_attributes: NoteAttributes
    merge_request: NoteMergeRequest

    @model_validator(mode="after")
    def _has_project_id(self) -> MergeRequestNotePayload:
        if self.resolved_project_id is None:
            raise ValueError("neither project.id nor project_id is set")
        return self

    @property
    def resolved_project_id(self) -> int | None:
        return self.project.id if self.project and self.project.id is not None else self.project_id

