"""The double's in-memory model of a GitLab instance: rows, lookups and id counters under one lock."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import unquote

from . import entities
from .errors import not_found
from .faults import Faults
from .records import (
    Commit,
    CommitStatus,
    Delivery,
    Deployment,
    Environment,
    Hook,
    MergeRequest,
    Note,
    Pipeline,
    Project,
    RecordedRequest,
    Token,
    User,
)
from .repository import ancestors

ProjectRef = int | str


class State:
    """Everything GitLab would hold; route handlers and scenario methods both work on it."""

    def __init__(self, *, external_url: str = "http://gitlab.double.test") -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = time.time
        self.external_url = external_url.rstrip("/")
        self.faults = Faults()
        self.archive_rate_limit: int | None = None
        self.archive_rate_window = 60
        self.archive_downloads = 0
        self.auto_disable_hooks = True
        self.webhook_timeout = 10.0
        self.refuse_fork_statuses = False
        """When set, a status on a commit no branch of the project holds (a fork's, reachable only
        through its merge request) is 403: GITLAB.md C1 leaves fork placement unverified."""
        self.delivery_order: random.Random | None = None
        """When set, each action's deliveries go out shuffled: GitLab does not order them (A1)."""
        self.outbox: list[threading.Thread] = []
        self.users: dict[int, User] = {}
        self.tokens: dict[str, Token] = {}
        self.projects: dict[int, Project] = {}
        self.commits: dict[str, Commit] = {}
        self.pipelines: dict[int, Pipeline] = {}
        self.status_rows: list[CommitStatus] = []
        self.mrs: dict[tuple[int, int], MergeRequest] = {}
        self.note_rows: dict[int, Note] = {}
        self.environment_rows: dict[int, Environment] = {}
        self.deployment_rows: dict[int, Deployment] = {}
        self.hook_rows: dict[int, Hook] = {}
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []
        self.archive_hits: dict[int, list[float]] = defaultdict(list)
        self._ids: dict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._commit_counter = itertools.count(1)

    # ids and time -------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def now(self) -> str:
        """API timestamps: ISO 8601 with milliseconds and Z, as GitLab's entities render them."""
        moment = datetime.fromtimestamp(self.clock(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    # lookups ------------------------------------------------------------------------------
    def project(self, ref: ProjectRef) -> Project:
        """Find by numeric id or by (possibly %2F-encoded) full path (GITLAB.md C0)."""
        if isinstance(ref, int):
            found = self.projects.get(ref)
        else:
            key = unquote(ref)
            if key.isdigit():
                found = self.projects.get(int(key))
            else:
                found = next(
                    (p for p in self.projects.values() if p.path_with_namespace.lower() == key.lower()), None
                )
        if found is None:
            raise not_found("Project")
        return found

    def user(self, user_id: int) -> User:
        return self.users[user_id]

    def user_named(self, username: str) -> User:
        for user in self.users.values():
            if user.username == username:
                return user
        user = User(
            id=self.next_id("user"),
            username=username,
            name=username.replace("-", " ").replace("_", " ").title(),
            email=f"{username}@example.com",
            created_at=self.now(),
        )
        self.users[user.id] = user
        return user

    def resolve(self, project: Project, ref_or_sha: str) -> str | None:
        """A branch, tag or (possibly short) SHA in this project, as GitLab's commit lookups accept."""
        if ref_or_sha in project.branches:
            return project.branches[ref_or_sha]
        if ref_or_sha in project.tags:
            return project.tags[ref_or_sha].commit_sha
        if len(ref_or_sha) >= 7:
            for sha in project.shas:
                if sha.startswith(ref_or_sha.lower()):
                    return sha
        return None

    def branches_containing(self, project: Project, sha: str) -> list[str]:
        names = sorted(project.branches, key=lambda name: (name != project.default_branch, name))
        return [name for name in names if sha in ancestors(self.commits, project.branches[name])]

    def merge_request(self, project: Project, iid: int) -> MergeRequest:
        found = self.mrs.get((project.id, iid))
        if found is None:
            raise not_found("Merge Request")
        return found

    def project_mrs(self, project: Project) -> list[MergeRequest]:
        return sorted((mr for mr in self.mrs.values() if mr.project_id == project.id), key=lambda m: m.iid)

    def environment_named(self, project: Project, name: str) -> Environment | None:
        return next(
            (e for e in self.environment_rows.values() if e.project_id == project.id and e.name == name), None
        )

    # writes -------------------------------------------------------------------------------
    def make_commit(
        self, project: Project, *, parents: tuple[str, ...], tree: dict[str, str], message: str, author: User
    ) -> Commit:
        seed = f"{project.id}:{next(self._commit_counter)}:{parents}:{message}:{sorted(tree.items())}"
        commit = Commit(
            sha=hashlib.sha1(seed.encode()).hexdigest(),
            parents=parents,
            tree=dict(tree),
            message=message,
            author_id=author.id,
            timestamp=datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        )
        self.commits[commit.sha] = commit
        project.shas.add(commit.sha)
        return commit

    def object_sha(self, seed: str) -> str:
        """A fresh SHA for non-commit objects (annotated tags)."""
        return hashlib.sha1(f"{seed}:{next(self._commit_counter)}".encode()).hexdigest()

    # public read views (tests assert on these) --------------------------------------------
    def statuses(self, project: ProjectRef) -> list[dict[str, object]]:
        with self.lock:
            found = self.project(project)
            return [
                {**entities.status(self, row), "retried": row.retried}
                for row in self.status_rows
                if row.project_id == found.id
            ]

    def notes(self, project: ProjectRef, iid: int) -> list[dict[str, object]]:
        with self.lock:
            found = self.project(project)
            rows = [n for n in self.note_rows.values() if n.project_id == found.id and n.mr_iid == iid]
            return [entities.note(self, row) for row in sorted(rows, key=lambda n: n.id)]

    def environments(self, project: ProjectRef) -> list[dict[str, object]]:
        with self.lock:
            found = self.project(project)
            rows = [e for e in self.environment_rows.values() if e.project_id == found.id]
            return [entities.environment(self, row) for row in rows]

    def deployments(self, project: ProjectRef) -> list[dict[str, object]]:
        with self.lock:
            found = self.project(project)
            rows = [d for d in self.deployment_rows.values() if d.project_id == found.id]
            return [entities.deployment(self, row) for row in rows]

    def hooks(self, project: ProjectRef) -> list[dict[str, object]]:
        with self.lock:
            found = self.project(project)
            rows = [h for h in self.hook_rows.values() if h.project_id == found.id]
            return [entities.hook(self, row) for row in rows]

    def merge_requests(self, project: ProjectRef) -> list[dict[str, object]]:
        with self.lock:
            found = self.project(project)
            return [entities.merge_request(self, mr, detailed=True) for mr in self.project_mrs(found)]
