"""State changes shared by the scenario methods and the API routes (notes, MR head moves)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import payloads, webhooks
from .records import MergeRequest, Note, Project, User
from .repository import ancestors, commits_between

if TYPE_CHECKING:
    from .state import State


def add_note(
    state: State, mr: MergeRequest, *, body: str, author: User, system: bool = False, internal: bool = False
) -> Note:
    now = state.now()
    row = Note(
        id=state.next_id("note"),
        project_id=mr.project_id,
        mr_iid=mr.iid,
        noteable_id=mr.id,
        body=body,
        author_id=author.id,
        system=system,
        internal=internal,
        created_at=now,
        updated_at=now,
    )
    state.note_rows[row.id] = row
    return row


def note_deliveries(
    state: State, row: Note, *, action: str, event_uuid: str | None = None
) -> list[webhooks.Planned]:
    # GITLAB.md B5: system notes never fire Note Hooks; internal ones go to confidential_note_events.
    if row.system:
        return []
    project = state.projects[row.project_id]
    trigger = "confidential_note_events" if row.internal else "note_events"
    hooks = webhooks.select_hooks(state, project, trigger)
    return webhooks.plan(state, hooks, payloads.note(state, row, action=action), event_uuid=event_uuid)


def mr_deliveries(
    state: State,
    mr: MergeRequest,
    *,
    action: str,
    user: User,
    changes: dict[str, object] | None = None,
    oldrev: str | None = None,
) -> list[webhooks.Planned]:
    # GITLAB.md B4: the hook fires on the target project's hooks, forks included.
    project = state.projects[mr.project_id]
    hooks = webhooks.select_hooks(state, project, "merge_requests_events")
    payload = payloads.merge_request(state, mr, action=action, user=user, changes=changes, oldrev=oldrev)
    return webhooks.plan(state, hooks, payload)


def move_mr_heads(state: State, source: Project, branch: str, *, user: User) -> list[webhooks.Planned]:
    """A push to an MR source branch: new head, "added N commits" note, MR update with oldrev."""
    planned: list[webhooks.Planned] = []
    head = source.branches[branch]
    for mr in list(state.mrs.values()):
        if mr.state != "opened" or mr.source_project_id != source.id or mr.source_branch != branch:
            continue
        if mr.head_sha == head:
            continue
        oldrev = mr.head_sha
        new = commits_between(state.commits, oldrev, head)
        target = state.projects[mr.project_id]
        # GitLab fetches fork commits into the target's refs/merge-requests/<iid>/head.
        target.shas.update(ancestors(state.commits, head))
        previous_updated = mr.updated_at
        mr.head_sha = head
        mr.updated_at = state.now()
        count = len(new)
        items = "".join(f"<li>{sha[:8]} - {state.commits[sha].title}</li>" for sha in new)
        add_note(
            state,
            mr,
            body=f"added {count} commit{'s' if count != 1 else ''}\n\n<ul>{items}</ul>",
            author=user,
            system=True,
        )
        changes: dict[str, object] = {
            "updated_at": {
                "previous": payloads.hook_time(previous_updated),
                "current": payloads.hook_time(mr.updated_at),
            }
        }
        planned += mr_deliveries(state, mr, action="update", user=user, changes=changes, oldrev=oldrev)
    return planned
