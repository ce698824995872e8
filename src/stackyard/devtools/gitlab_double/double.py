"""GitLabDouble: the in-memory GitLab plus the scenario verbs tests use to make things happen in it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import mutations, payloads, webhooks
from .records import ZERO_SHA, Delivery, MergeRequest, Project, Tag, Token, User
from .repository import ancestors, commits_between, merge_base, tree_changes
from .state import ProjectRef, State


class GitLabDouble(State):
    """Thread-safe (one lock); every verb changes state under it and delivers hooks after it."""

    # people and projects ------------------------------------------------------------------
    def add_user(
        self,
        username: str,
        *,
        token: str | None = None,
        scopes: Iterable[str] = ("api",),
        expires_at: str | None = None,
        bot: bool = False,
        name: str | None = None,
        public_email: str | None = None,
    ) -> User:
        with self.lock:
            user = self.user_named(username)
            user.bot = bot
            user.name = name or user.name
            user.public_email = public_email
            if token is not None:
                self.add_token(username, token, scopes=scopes, expires_at=expires_at)
            return user

    def add_token(
        self,
        username: str,
        token: str,
        *,
        scopes: Iterable[str] = ("api",),
        expires_at: str | None = None,
        name: str = "stackyard",
    ) -> Token:
        with self.lock:
            row = Token(
                id=self.next_id("token"),
                token=token,
                user_id=self.user_named(username).id,
                name=name,
                scopes=tuple(scopes),
                expires_at=expires_at,
                created_at=self.now(),
            )
            self.tokens[token] = row
            return row

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def add_project(
        self,
        path: str,
        *,
        default_branch: str = "main",
        files: Mapping[str, str] | None = None,
        author: str | None = None,
        description: str = "",
        only_allow_merge_if_pipeline_succeeds: bool = False,
    ) -> Project:
        with self.lock:
            project = Project(
                id=self.next_id("project"),
                path_with_namespace=path,
                default_branch=default_branch,
                description=description,
                only_allow_merge_if_pipeline_succeeds=only_allow_merge_if_pipeline_succeeds,
                created_at=self.now(),
            )
            self.projects[project.id] = project
            tree = dict(files) if files is not None else {"README.md": f"# {project.name}\n"}
            commit = self.make_commit(
                project, parents=(), tree=tree, message="Initial commit\n", author=self._author(author)
            )
            project.branches[default_branch] = commit.sha
            return project

    def fork_project(self, source: ProjectRef, path: str) -> Project:
        with self.lock:
            origin = self.project(source)
            fork = Project(
                id=self.next_id("project"),
                path_with_namespace=path,
                default_branch=origin.default_branch,
                description=origin.description,
                forked_from_id=origin.id,
                created_at=self.now(),
                branches=dict(origin.branches),
                shas=set(origin.shas),
            )
            self.projects[fork.id] = fork
            return fork

    # git ----------------------------------------------------------------------------------
    def push(
        self,
        project: ProjectRef,
        *,
        branch: str,
        files: Mapping[str, str | None],
        message: str = "Update files",
        author: str | None = None,
        parent: str | None = None,
        deliver: bool = True,
    ) -> str:
        """One new commit on branch; parent= forces a different parent (a force-push)."""
        with self.lock:
            target = self.project(project)
            user = self._author(author)
            before = target.branches.get(branch)
            base = parent or before or target.branches.get(target.default_branch)
            tree = dict(self.commits[base].tree) if base else {}
            for path, content in files.items():
                if content is None:
                    tree.pop(path, None)
                else:
                    tree[path] = content
            commit = self.make_commit(
                target, parents=(base,) if base else (), tree=tree, message=message, author=user
            )
            target.branches[branch] = commit.sha
            planned = self._push_deliveries(target, branch, before, commit.sha, user)
            planned += mutations.move_mr_heads(self, target, branch, user=user)
        if deliver:
            webhooks.send(self, planned)
        return commit.sha

    def delete_branch(
        self, project: ProjectRef, branch: str, *, author: str | None = None, deliver: bool = True
    ) -> None:
        with self.lock:
            target = self.project(project)
            before = target.branches.pop(branch)
            planned = self._push_deliveries(target, branch, before, None, self._author(author))
        if deliver:
            webhooks.send(self, planned)

    def push_tag(
        self,
        project: ProjectRef,
        tag: str,
        sha: str | None = None,
        *,
        message: str | None = None,
        author: str | None = None,
        deliver: bool = True,
    ) -> str:
        """Create a tag (annotated when message is given); returns the tagged commit SHA."""
        with self.lock:
            target = self.project(project)
            commit_sha = self.resolve(target, sha) if sha else target.branches[target.default_branch]
            if commit_sha is None:
                raise ValueError(f"unknown commit {sha!r}")
            # GITLAB.md B3: after = tag object SHA (annotated) or the commit (lightweight).
            after = self.object_sha(f"tag:{tag}") if message else commit_sha
            target.tags[tag] = Tag(tag, after, commit_sha, message)
            user = self._author(author)
            payload = payloads.push(
                self, target, kind="tag_push", ref=f"refs/tags/{tag}", before=ZERO_SHA, after=after,
                checkout_sha=commit_sha, commit_shas=[commit_sha], user=user, message=message,
            )
            planned = webhooks.plan(self, webhooks.select_hooks(self, target, "tag_push_events"), payload)
        if deliver:
            webhooks.send(self, planned)
        return commit_sha

    def delete_tag(
        self, project: ProjectRef, tag: str, *, author: str | None = None, deliver: bool = True
    ) -> None:
        with self.lock:
            target = self.project(project)
            old = target.tags.pop(tag)
            payload = payloads.push(
                self, target, kind="tag_push", ref=f"refs/tags/{tag}", before=old.target, after=ZERO_SHA,
                checkout_sha=None, commit_shas=[], user=self._author(author),
            )
            planned = webhooks.plan(self, webhooks.select_hooks(self, target, "tag_push_events"), payload)
        if deliver:
            webhooks.send(self, planned)

    # merge requests -----------------------------------------------------------------------
    def open_merge_request(
        self,
        project: ProjectRef,
        *,
        source_branch: str,
        target_branch: str | None = None,
        title: str = "Update",
        description: str = "",
        source_project: ProjectRef | None = None,
        draft: bool = False,
        labels: Iterable[str] = (),
        author: str | None = None,
        deliver: bool = True,
    ) -> int:
        with self.lock:
            target = self.project(project)
            source = self.project(source_project) if source_project is not None else target
            head = source.branches[source_branch]
            target.shas.update(ancestors(self.commits, head))
            user = self._author(author)
            now = self.now()
            existing = [mr.iid for mr in self.mrs.values() if mr.project_id == target.id]
            mr = MergeRequest(
                id=self.next_id("merge_request"),
                iid=max(existing, default=0) + 1,
                project_id=target.id,
                source_project_id=source.id,
                source_branch=source_branch,
                target_branch=target_branch or target.default_branch,
                title=f"Draft: {title}" if draft and not title.lower().startswith("draft:") else title,
                description=description,
                author_id=user.id,
                state="opened",
                head_sha=head,
                created_at=now,
                updated_at=now,
                labels=list(labels),
            )
            self.mrs[(target.id, mr.iid)] = mr
            planned = mutations.mr_deliveries(self, mr, action="open", user=user)
        if deliver:
            webhooks.send(self, planned)
        return mr.iid

    def update_merge_request(
        self,
        project: ProjectRef,
        iid: int,
        *,
        title: str | None = None,
        description: str | None = None,
        draft: bool | None = None,
        labels: Iterable[str] | None = None,
        author: str | None = None,
        deliver: bool = True,
    ) -> None:
        """A metadata-only edit: MR hook "update" without oldrev (GITLAB.md B4)."""
        with self.lock:
            mr = self.merge_request(self.project(project), iid)
            user = self._author(author)
            before: dict[str, Any] = {"title": mr.title, "description": mr.description,
                                      "draft": mr.draft, "labels": list(mr.labels)}
            if title is not None:
                mr.title = title
            if draft is True and not mr.draft:
                mr.title = f"Draft: {mr.title}"
            if draft is False and mr.draft:
                mr.title = mr.title.split(":", 1)[1].strip() if ":" in mr.title else mr.title
            if description is not None:
                mr.description = description
            if labels is not None:
                mr.labels = list(labels)
            after: dict[str, Any] = {"title": mr.title, "description": mr.description,
                                     "draft": mr.draft, "labels": list(mr.labels)}
            changes: dict[str, object] = {
                key: {"previous": before[key], "current": after[key]}
                for key in before
                if before[key] != after[key]
            }
            if before["title"] != after["title"] and before["draft"] == after["draft"]:
                change = f"changed title from **{before['title']}** to **{after['title']}**"
                self._system_note(mr, change, user)
            if before["draft"] != after["draft"]:
                word = "draft" if mr.draft else "ready"
                self._system_note(mr, f"marked this merge request as **{word}**", user)
            self._touch(mr, user, changes)
            planned = mutations.mr_deliveries(self, mr, action="update", user=user, changes=changes)
        if deliver:
            webhooks.send(self, planned)

    def close_merge_request(
        self, project: ProjectRef, iid: int, *, author: str | None = None, deliver: bool = True
    ) -> None:
        self._change_mr_state(project, iid, "closed", "close", author=author, deliver=deliver)

    def reopen_merge_request(
        self, project: ProjectRef, iid: int, *, author: str | None = None, deliver: bool = True
    ) -> None:
        self._change_mr_state(project, iid, "opened", "reopen", author=author, deliver=deliver)

    def merge_merge_request(
        self, project: ProjectRef, iid: int, *, author: str | None = None, deliver: bool = True
    ) -> str:
        """Merge commit on the target branch: a Push Hook there, then MR hook "merge"."""
        with self.lock:
            target = self.project(project)
            mr = self.merge_request(target, iid)
            user = self._author(author)
            target_head = target.branches[mr.target_branch]
            base = merge_base(self.commits, mr.head_sha, target_head)
            tree = dict(self.commits[target_head].tree)
            added, modified, removed = tree_changes(
                self.commits[base].tree if base else {}, self.commits[mr.head_sha].tree
            )
            for path in [*added, *modified]:
                tree[path] = self.commits[mr.head_sha].tree[path]
            for path in removed:
                tree.pop(path, None)
            message = f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{mr.title}\n"
            commit = self.make_commit(
                target, parents=(target_head, mr.head_sha), tree=tree, message=message, author=user
            )
            target.branches[mr.target_branch] = commit.sha
            planned = self._push_deliveries(target, mr.target_branch, target_head, commit.sha, user)
            mr.merge_commit_sha = commit.sha
            mr.merge_user_id = user.id
            mr.merged_at = self.now()
        if deliver:
            webhooks.send(self, planned)
        self._change_mr_state(project, iid, "merged", "merge", author=author, deliver=deliver)
        return commit.sha

    # notes and deliveries -----------------------------------------------------------------
    def add_note(
        self,
        project: ProjectRef,
        iid: int,
        body: str,
        *,
        author: str | None = None,
        internal: bool = False,
        system: bool = False,
        deliver: bool = True,
    ) -> int:
        with self.lock:
            mr = self.merge_request(self.project(project), iid)
            row = mutations.add_note(
                self, mr, body=body, author=self._author(author), system=system, internal=internal
            )
            planned = mutations.note_deliveries(self, row, action="create")
        if deliver:
            webhooks.send(self, planned)
        return row.id

    def resend(self, delivery_index: int) -> Delivery:
        return webhooks.resend(self, delivery_index)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Join the workers delivering API-caused hooks (notes posted through the API)."""
        return webhooks.wait_for_outbox(self, timeout)

    # helpers ------------------------------------------------------------------------------
    def _author(self, username: str | None) -> User:
        if username is not None:
            return self.user_named(username)
        first = min(self.users.values(), key=lambda u: u.id, default=None)
        return first if first is not None else self.user_named("root")

    def _system_note(self, mr: MergeRequest, body: str, user: User) -> None:
        mutations.add_note(self, mr, body=body, author=user, system=True)

    def _touch(self, mr: MergeRequest, user: User, changes: dict[str, object]) -> None:
        previous = mr.updated_at
        mr.updated_at = self.now()
        mr.updated_by_id = user.id
        changes["updated_at"] = {"previous": payloads.hook_time(previous),
                                 "current": payloads.hook_time(mr.updated_at)}

    def _change_mr_state(
        self, project: ProjectRef, iid: int, state: str, action: str, *, author: str | None, deliver: bool
    ) -> None:
        with self.lock:
            mr = self.merge_request(self.project(project), iid)
            user = self._author(author)
            previous = mr.state
            mr.state = state
            if state == "closed":
                mr.closed_at, mr.closed_by_id = self.now(), user.id
            changes: dict[str, object] = {"state_id": {"previous": payloads.STATE_IDS[previous],
                                                       "current": payloads.STATE_IDS[state]}}
            self._touch(mr, user, changes)
            self._system_note(mr, {"close": "closed", "reopen": "reopened", "merge": "merged"}[action], user)
            planned = mutations.mr_deliveries(self, mr, action=action, user=user, changes=changes)
        if deliver:
            webhooks.send(self, planned)

    def _push_deliveries(
        self, project: Project, branch: str, before: str | None, after: str | None, user: User
    ) -> list[webhooks.Planned]:
        """Push Hook per GITLAB.md B2: zero SHAs for create/delete, commit list rules by case."""
        if after is None:
            commit_shas: list[str] = []
        elif before is None and branch == project.default_branch:
            commit_shas = list(reversed(ancestors(self.commits, after)[:100]))
        elif before is None:
            default_head = project.branches.get(project.default_branch)
            commit_shas = commits_between(self.commits, default_head, after)
        else:
            commit_shas = commits_between(self.commits, before, after)
        payload = payloads.push(
            self, project, kind="push", ref=f"refs/heads/{branch}", before=before or ZERO_SHA,
            after=after or ZERO_SHA, checkout_sha=after, commit_shas=commit_shas, user=user,
        )
        hooks = webhooks.select_hooks(self, project, "push_events", branch=branch)
        return webhooks.plan(self, hooks, payload)
