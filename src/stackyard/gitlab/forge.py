"""GitLabForge: the Forge port implemented with python-gitlab, returning core types and core errors."""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import gitlab
import requests

from stackyard.core.ports import (
    DeploymentInfo,
    ForgeError,
    ForgeRateLimited,
    ForgeRefused,
    ForgeUnavailable,
    HookResult,
    MergeRequestInfo,
    ProjectInfo,
    StatusTransitionRefused,
    TokenCheck,
)
from stackyard.core.reports import DESCRIPTION_LIMIT, cut
from stackyard.gitlab.errors import classify, error_detail, translated
from stackyard.gitlab.hooks import create_attributes, plan_hook, repair_attributes, same_url
from stackyard.gitlab.token_check import judge_token

USER_AGENT = "stackyard/0.1"
# Waits between tries when GitLab answers 409 to a commit status: its per-(project, sha) lock is
# busy (GITLAB.md C1 step 1) and python-gitlab does not retry that 409 (D3).
STATUS_LOCK_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0)
# "Cannot transition status via :run from :running (Reason(s): ...)" (GITLAB.md C1, commit_status.rb).
_TRANSITION_FROM = re.compile(r"Cannot transition status via :\w+ from :(\w+)")


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """How long GitLab asked us to wait: Retry-After (integer seconds), else RateLimit-Reset (epoch
    seconds) minus now (GITLAB.md C10, the same order python-gitlab uses in D3)."""
    retry_after = headers.get("Retry-After")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after.strip())
    reset = headers.get("RateLimit-Reset")
    if reset is not None and reset.strip().isdigit():
        return max(0.0, float(reset.strip()) - (time.time() if now is None else now))
    return None


class _RateLimitMemo:
    """Remembers the wait GitLab asked for in its last 429: python-gitlab's exceptions drop the headers
    (D4), and the outbox needs them to honour Retry-After once python-gitlab's own retries are spent."""

    def __init__(self) -> None:
        self._local = threading.local()

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.status_code == 429:
            self._local.value = retry_after_seconds(response.headers)
        return response

    @property
    def last(self) -> float | None:
        value: float | None = getattr(self._local, "value", None)
        return value


class _Client(gitlab.Gitlab):
    """python-gitlab retries 429s and transient errors 10 times per call by default (D3); a worker
    should give up sooner and let its queue retry, so every call gets our bound unless it says otherwise."""

    def __init__(self, *args: Any, max_retries: int, obey_rate_limit: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stackyard_max_retries = max_retries
        self._stackyard_obey_rate_limit = obey_rate_limit

    def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("max_retries", self._stackyard_max_retries)
        kwargs.setdefault("obey_rate_limit", self._stackyard_obey_rate_limit)
        return super().http_request(verb, path, *args, **kwargs)


def _merge_request_info(attrs: Mapping[str, Any]) -> MergeRequestInfo:
    return MergeRequestInfo(
        iid=int(attrs["iid"]),
        source_branch=str(attrs["source_branch"]),
        target_branch=str(attrs["target_branch"]),
        source_project_id=int(attrs["source_project_id"]),
        head_sha=str(attrs.get("sha") or ""),
        state=str(attrs["state"]),
    )


def _diff_paths(diffs: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Both sides of every diff, so a rename counts for the folder it left and the one it entered."""
    paths: set[str] = set()
    for diff in diffs:
        for key in ("old_path", "new_path"):
            value = diff.get(key)
            if value:
                paths.add(str(value))
    return frozenset(paths)


def _first_line(body: str) -> str:
    return body.split("\n", 1)[0].rstrip("\r").strip()


class GitLabForge:
    """One GitLab server as seen with one token; cheap to build, holds no state beyond the bot's id."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        max_retries: int = 3,
        wait_on_rate_limit: bool = True,
        status_lock_delays: tuple[float, ...] = STATUS_LOCK_DELAYS,
        today: Callable[[], date] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url
        # python-gitlab wants the server root; accept the API URL people copy from the docs too.
        server = api_url.rstrip("/").removesuffix("/api/v4")
        self._rate_limits = _RateLimitMemo()
        session = requests.Session()
        session.hooks["response"].append(self._rate_limits.on_response)
        self._gl = _Client(
            server,
            session=session,
            private_token=token,
            timeout=timeout,
            retry_transient_errors=True,
            per_page=100,
            user_agent=USER_AGENT,
            max_retries=max_retries,
            # False: a 429 raises ForgeRateLimited with its Retry-After at once, for a caller (the
            # feedback outbox) that waits without holding a worker thread (GITLAB.md D3, C10).
            obey_rate_limit=wait_on_rate_limit,
        )
        self._status_lock_delays = status_lock_delays
        self._today = today or (lambda: datetime.now(UTC).date())
        self._sleep = sleep
        self._user_id: int | None = None

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """`translated`, plus the Retry-After of a 429 that outlasted python-gitlab's retries."""
        try:
            with translated(doing):
                yield
        except ForgeRateLimited as exc:
            if exc.retry_after is None:
                exc.retry_after = self._rate_limits.last
            raise

    # --- token and project ------------------------------------------------------------------

    def _own_user_id(self) -> int:
        if self._user_id is None:
            with self._translated("read the token's user"):
                self._gl.auth()
            assert self._gl.user is not None
            self._user_id = int(self._gl.user.id)
        return self._user_id

    def check_token(self) -> TokenCheck:
        """Never raises for a bad token or an unreachable server: saying what is wrong is the point."""
        try:
            with self._translated("read the token's user"):
                self._gl.auth()
        except ForgeError as exc:
            return TokenCheck(
                ok=False, user=None, scopes=(), expires_at=None, problems=(self._user_problem(exc),)
            )
        user = self._gl.user
        assert user is not None
        self._user_id = int(user.id)
        token: Mapping[str, Any] | None = None
        unreadable: str | None = None
        try:
            # GET /personal_access_tokens/self (GitLab 15.5+) also answers for project and group
            # access tokens, whose bot users are token owners too (C8).
            with self._translated("read the token's scopes"):
                token = self._gl.personal_access_tokens.get("self").asdict()
        except ForgeError as exc:
            unreadable = f"could not read the token's scopes and expiry: {exc.message}"
        return judge_token(
            username=str(user.username), token=token, today=self._today(), token_unreadable=unreadable
        )

    def _user_problem(self, exc: ForgeError) -> str:
        if exc.status == 401:
            return "GitLab rejected the token (401): it was revoked or has expired"
        if exc.status == 403:
            return "GitLab refused to show the token's user (403): the token needs the api scope"
        if exc.status == 404:
            return f"no GitLab API answered at {self.api_url} (404): check the API URL"
        if isinstance(exc, ForgeUnavailable):
            return f"GitLab at {self.api_url} could not be reached: {exc.message}"
        return exc.message

    def project(self, ref: int | str) -> ProjectInfo:
        with self._translated(f"find project {ref}"):
            project = self._gl.projects.get(ref)
        return ProjectInfo(
            id=int(project.id),
            path=str(project.path_with_namespace),
            default_branch=project.attributes.get("default_branch"),
            web_url=str(project.web_url),
        )

    def _project(self, project_id: int | str) -> Any:
        return self._gl.projects.get(project_id, lazy=True)

    # --- hooks ------------------------------------------------------------------------------

    def ensure_hook(
        self,
        project_id: int,
        *,
        url: str,
        token: str | None,
        signing_token: str | None = None,
        known_id: int | None = None,
    ) -> HookResult:
        """Exactly one hook per project points at Stackyard: duplicates would double every delivery."""
        project = self._project(project_id)
        with self._translated(f"list the hooks of project {project_id}"):
            hooks = [h.asdict() for h in project.hooks.list(get_all=True)]
        plan = plan_hook(hooks, url=url, token=token, signing_token=signing_token, known_id=known_id)
        if plan.keep_id is None:
            with self._translated(f"create a hook on project {project_id}"):
                hook = project.hooks.create(
                    create_attributes(url=url, token=token, signing_token=signing_token)
                )
            return HookResult(hook_id=int(hook.id), action="created")
        for duplicate in plan.delete_ids:
            self._delete_hook(project, project_id, duplicate)
        if not plan.changes:
            return HookResult(plan.keep_id, "unchanged", removed_duplicates=len(plan.delete_ids))
        with self._translated(f"repair hook {plan.keep_id} on project {project_id}"):
            project.hooks.update(
                plan.keep_id, repair_attributes(plan, url=url, token=token, signing_token=signing_token)
            )
        return HookResult(plan.keep_id, "repaired", removed_duplicates=len(plan.delete_ids))

    def _delete_hook(self, project: Any, project_id: int, hook_id: int) -> None:
        try:
            with self._translated(f"delete hook {hook_id} on project {project_id}"):
                project.hooks.delete(hook_id)
        except ForgeRefused as exc:
            if exc.status != 404:  # already gone: the goal is reached
                raise

    def remove_hook(self, project_id: int, url: str, *, known_id: int | None = None) -> int:
        """Deletes every hook to `url`, and the one Stackyard installed (`known_id`) wherever it points now."""
        project = self._project(project_id)
        with self._translated(f"list the hooks of project {project_id}"):
            hooks = project.hooks.list(get_all=True)
        ours = [int(h.id) for h in hooks if same_url(str(h.url), url) or int(h.id) == known_id]
        for hook_id in ours:
            self._delete_hook(project, project_id, hook_id)
        return len(ours)

    # --- commit statuses --------------------------------------------------------------------

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
    ) -> None:
        data: dict[str, Any] = {"state": state, "name": name}
        if ref:
            data["ref"] = ref
        if target_url:
            data["target_url"] = target_url
        if description is not None:
            # GitLab rejects, not truncates, a description over 255 characters (C1).
            data["description"] = cut(description, DESCRIPTION_LIMIT)
        statuses = self._project(project_id).commits.get(sha, lazy=True).statuses
        doing = f"set commit status {name} to {state} on {sha[:8]}"
        for attempt in range(len(self._status_lock_delays) + 1):
            try:
                statuses.create(data)
                return
            except gitlab.exceptions.GitlabError as exc:
                error = classify(exc, doing=doing)
                if exc.response_code == 409 and attempt < len(self._status_lock_delays):
                    # Another status update holds GitLab's per-commit lock (C1); D3: not retried
                    # by python-gitlab, whose retry only matches the "Resource lock" reason.
                    self._sleep(self._status_lock_delays[attempt])
                    continue
                detail = error_detail(exc.error_message)
                if exc.response_code == 400 and detail.startswith("Cannot transition status via"):
                    found = _TRANSITION_FROM.match(detail)
                    raise StatusTransitionRefused(
                        f"GitLab refused to move commit status {name} on {sha[:8]} to {state}: "
                        f"it does not allow that transition ({detail})",
                        400,
                        current=found.group(1) if found else None,
                    ) from exc
                if exc.response_code == 409:
                    raise ForgeUnavailable(
                        f"GitLab kept the commit {sha[:8]} locked for status updates: {detail}", 409
                    ) from exc
                if isinstance(error, ForgeRateLimited) and error.retry_after is None:
                    error.retry_after = self._rate_limits.last
                raise error from exc
            except requests.RequestException as exc:
                raise classify(exc, doing=doing) from exc

    # --- merge request notes ----------------------------------------------------------------

    def _notes(self, project_id: int, iid: int) -> Any:
        return self._project(project_id).mergerequests.get(iid, lazy=True).notes

    def find_note(self, project_id: int, iid: int, *, marker: str) -> int | None:
        """The oldest note of ours starting with `marker`; lists include system notes (C2)."""
        own = self._own_user_id()
        with self._translated(f"list the notes of merge request !{iid}"):
            for note in self._notes(project_id, iid).list(iterator=True, sort="asc", order_by="created_at"):
                attrs = note.attributes
                if attrs.get("system"):
                    continue
                if int((attrs.get("author") or {}).get("id", -1)) != own:
                    continue
                if _first_line(str(attrs.get("body") or "")) == marker.strip():
                    return int(note.id)
        return None

    def create_note(self, project_id: int, iid: int, body: str) -> int:
        # Not retried by python-gitlab (a 5xx after GitLab saved the note would post it twice): the
        # outbox retries, and upsert_note first finds what a lost answer left behind by its marker.
        with self._translated(f"comment on merge request !{iid}"):
            note = self._notes(project_id, iid).create({"body": body}, retry_transient_errors=False)
        return int(note.id)

    def update_note(self, project_id: int, iid: int, note_id: int, body: str) -> None:
        with self._translated(f"update note {note_id} on merge request !{iid}"):
            self._notes(project_id, iid).update(note_id, {"body": body})

    def upsert_note(self, project_id: int, iid: int, *, marker: str, body: str, note_id: int | None) -> int:
        """Update the comment in place; if someone deleted it, find ours by its marker or start again."""
        if note_id is not None:
            try:
                self.update_note(project_id, iid, note_id, body)
                return note_id
            except ForgeRefused as exc:
                if exc.status != 404:
                    raise
        found = self.find_note(project_id, iid, marker=marker)
        if found is not None:
            self.update_note(project_id, iid, found, body)
            return found
        return self.create_note(project_id, iid, body)

    # --- merge requests and changes ---------------------------------------------------------

    def open_merge_requests(
        self, project_id: int, *, source_branch: str, head_sha: str | None = None
    ) -> list[MergeRequestInfo]:
        """Open merge requests on this (target) project from `source_branch`, forks included (C7)."""
        with self._translated(f"list merge requests from {source_branch}"):
            found = [
                _merge_request_info(mr.attributes)
                for mr in self._project(project_id).mergerequests.list(
                    iterator=True, state="opened", source_branch=source_branch
                )
            ]
        return [mr for mr in found if head_sha is None or mr.head_sha == head_sha]

    def merge_request(self, project_id: int, iid: int) -> MergeRequestInfo:
        with self._translated(f"read merge request !{iid}"):
            mr = self._project(project_id).mergerequests.get(iid)
        return _merge_request_info(mr.attributes)

    def merge_request_changed_paths(self, project_id: int, iid: int) -> frozenset[str]:
        # `mr.diffs` is the versions API; the paginated file list has no helper (D2).
        with self._translated(f"list the changes of merge request !{iid}"):
            diffs = self._gl.http_list(f"/projects/{project_id}/merge_requests/{iid}/diffs", iterator=True)
            return _diff_paths(d for d in diffs if isinstance(d, Mapping))

    def changed_paths(self, project_id: int, from_sha: str, to_sha: str) -> frozenset[str]:
        with self._translated(f"compare {from_sha[:8]}...{to_sha[:8]}"):
            result = self._project(project_id).repository_compare(from_sha, to_sha)
        diffs = result.get("diffs", []) if isinstance(result, Mapping) else []
        return _diff_paths(d for d in diffs if isinstance(d, Mapping))

    # --- environments and deployments -------------------------------------------------------

    def ensure_environment(self, project_id: int, *, name: str, external_url: str) -> int:
        environments = self._project(project_id).environments
        with self._translated(f"find environment {name}"):
            existing = [e for e in environments.list(iterator=True, name=name) if e.name == name]
        if not existing:
            try:
                with self._translated(f"create environment {name}"):
                    created = environments.create({"name": name, "external_url": external_url})
                return int(created.id)
            except ForgeRefused as exc:
                # Someone created it between our list and create: "has already been taken" (C3).
                if "taken" not in exc.message:
                    raise
                with self._translated(f"find environment {name}"):
                    existing = [e for e in environments.list(iterator=True, name=name) if e.name == name]
                if not existing:
                    raise
        environment = existing[0]
        if environment.attributes.get("external_url") != external_url:
            with self._translated(f"update environment {name}"):
                environments.update(environment.id, {"external_url": external_url})
        return int(environment.id)

    def create_deployment(
        self, project_id: int, *, environment: str, sha: str, ref: str, status: str, tag: bool = False
    ) -> int:
        # All four of environment, sha, ref, tag are required (C4); only running/success/failed/
        # canceled are accepted. The POST has no idempotency key: python-gitlab's own retry of a 5xx
        # or a timeout (D3) would create a second deployment if the first one landed, so it is not
        # retried here; the outbox retries it and first adopts what a lost answer left behind.
        with self._translated(f"create a {status} deployment on {environment}"):
            deployment = self._project(project_id).deployments.create(
                {"environment": environment, "sha": sha, "ref": ref, "tag": tag, "status": status},
                retry_transient_errors=False,
            )
        return int(deployment.id)

    def update_deployment(self, project_id: int, deployment_id: int, status: str) -> None:
        # An invalid transition answers 400 {"message": {}} (C4), which reads "no reason given".
        with self._translated(f"move deployment {deployment_id} to {status}"):
            self._project(project_id).deployments.update(deployment_id, {"status": status})

    def running_deployments(
        self, project_id: int, *, environment: str, updated_after: datetime
    ) -> list[DeploymentInfo]:
        """Running deployments of an environment touched since `updated_after`, newest first.

        GitLab answers 400 "`updated_at` filter requires `updated_at` sort" unless an updated_after
        filter is ordered by updated_at (src app/finders/deployments_finder.rb, `validate!`).
        """
        since = updated_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._translated(f"list running deployments on {environment}"):
            found = list(self._project(project_id).deployments.list(
                iterator=True, environment=environment, status="running", updated_after=since,
                order_by="updated_at", sort="desc",
            ))
        if not found:
            return []
        me = self._own_user_id()
        return [
            DeploymentInfo(
                id=int(d.id), sha=str(d.sha), ref=str(d.ref), status=str(d.status),
                ours=int((d.attributes.get("user") or {}).get("id", -1)) == me,
            )
            for d in found
        ]

    def commit_sha(self, project_id: int, ref: str) -> str:
        """The full SHA a branch, tag or short SHA points at now (manual runs name a branch)."""
        with translated(f"find the commit of {ref}"):
            return str(self._project(project_id).commits.get(ref).id)

    def tag_commit_sha(self, project_id: int, tag: str) -> str:
        """The commit a tag points at (GET /projects/:id/repository/tags/:tag_name), never a branch's."""
        with translated(f"find tag {tag}"):
            return str(self._project(project_id).tags.get(tag).commit["id"])

    # --- archive ----------------------------------------------------------------------------

    def download_archive(self, project_id: int, sha: str, dest: Path) -> None:
        """Stream to a temporary name beside `dest`, then rename: a reader never sees half a file."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, self._translated(f"download the archive of {sha[:8]}"):
                self._project(project_id).repository_archive(
                    sha=sha, format="tar.gz", streamed=True, action=out.write, chunk_size=65536
                )
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
