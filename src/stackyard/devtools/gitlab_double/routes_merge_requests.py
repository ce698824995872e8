"""Merge request reads, their diffs, and MR notes with GitLab's note rules (GITLAB.md C2, C6, C7)."""

from __future__ import annotations

import re

from . import entities, mutations, webhooks
from .api import Answer, Context, paginate, sort_rows
from .errors import FORBIDDEN, ApiError, bad_request, not_found
from .records import MergeRequest, Note
from .repository import diff_trees, merge_base
from .routing import Route, route

NOTE_LIMIT = 1_000_000
TOO_LONG_NOTE = '{:note=>["is too long (maximum is 1000000 characters)"]}'
MR_STATES = ("opened", "closed", "locked", "merged", "all")
# A small subset of GitLab's quick actions; a body made only of these is not stored (GITLAB.md C2).
QUICK_ACTION = re.compile(
    r"^/(label|unlabel|relabel|close|reopen|merge|draft|ready|title|assign|unassign|approve|unapprove"
    r"|milestone|estimate|spend|rebase|assign_reviewer|unassign_reviewer|lock|unlock|due|weight)\b(.*)$"
)


def _mr(ctx: Context) -> MergeRequest:
    return ctx.double.merge_request(ctx.project(), ctx.int_path("iid", "Merge Request"))


def list_mrs(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        rows = double.project_mrs(ctx.project())
        state = ctx.choice("state", MR_STATES)
        if state and state != "all":
            rows = [mr for mr in rows if mr.state == state]
        for field in ("source_branch", "target_branch"):
            wanted = ctx.text(field)
            if wanted is not None:
                rows = [mr for mr in rows if getattr(mr, field) == wanted]
        iids = [v for k, v in ctx.params.items() if k.startswith("iids")]
        if iids:
            flat = {str(i) for v in iids for i in (v if isinstance(v, list) else [v])}
            rows = [mr for mr in rows if str(mr.iid) in flat]
        rows = sort_rows(
            ctx, rows, keys={"created_at": lambda m: m.created_at, "updated_at": lambda m: m.updated_at},
            default_order="created_at", default_sort="desc",
        )
        return paginate(ctx, rows, lambda mr: entities.merge_request(double, mr))


def get_mr(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.merge_request(ctx.double, _mr(ctx), detailed=True))


def mr_diffs(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        mr = _mr(ctx)
        project = ctx.project()
        start = project.branches.get(mr.target_branch)
        base = merge_base(double.commits, mr.head_sha, start) if start else None
        base_tree = double.commits[base].tree if base else {}
        diffs = diff_trees(base_tree, double.commits[mr.head_sha].tree)
        return paginate(ctx, diffs, lambda d: d.as_api())


def _note(ctx: Context, mr: MergeRequest) -> Note:
    note_id = ctx.int_path("note_id", "Note")
    row = ctx.double.note_rows.get(note_id)
    if row is None or row.noteable_id != mr.id:
        raise not_found("Note")
    return row


def list_notes(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        mr = _mr(ctx)
        rows = [n for n in double.note_rows.values() if n.noteable_id == mr.id]
        # GITLAB.md C2: default sort desc by created_at; system notes are included.
        rows = sort_rows(
            ctx, rows, keys={"created_at": lambda n: n.created_at, "updated_at": lambda n: n.updated_at},
            default_order="created_at", default_sort="desc",
        )
        return paginate(ctx, rows, lambda n: entities.note(double, n))


def get_note(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.note(ctx.double, _note(ctx, _mr(ctx))))


def _strip_quick_actions(body: str) -> tuple[str, list[str]]:
    kept, commands = [], []
    for line in body.splitlines():
        match = QUICK_ACTION.match(line.strip())
        if match:
            commands.append(line.strip())
        else:
            kept.append(line)
    return "\n".join(kept).strip(), commands


def _apply_commands(mr: MergeRequest, commands: list[str]) -> tuple[dict[str, object], list[str]]:
    changes: dict[str, object] = {}
    summary: list[str] = []
    for command in commands:
        verb, _, rest = command[1:].partition(" ")
        labels = [part.lstrip("~") for part in rest.split() if part.startswith("~")]
        if verb == "label" and labels:
            mr.labels += [label for label in labels if label not in mr.labels]
            changes["add_label_ids"] = labels
            summary.append("Added " + " ".join(f"~{label}" for label in labels) + " label(s).")
        elif verb == "unlabel":
            mr.labels = [label for label in mr.labels if labels and label not in labels]
            changes["remove_label_ids"] = labels
            summary.append("Removed label(s).")
        else:
            summary.append(f"Ran /{verb}.")
    return changes, summary


def create_note(ctx: Context) -> Answer:
    body = ctx.required_text("body")
    double = ctx.double
    with double.lock:
        mr = _mr(ctx)
        if len(body) > NOTE_LIMIT:
            raise ApiError(400, {"message": f"400 Bad request - Note {TOO_LONG_NOTE}"})
        remaining, commands = _strip_quick_actions(body)
        if commands:
            changes, summary = _apply_commands(mr, commands)
            if not remaining:
                # GITLAB.md C2: only quick actions -> 202, nothing stored.
                return Answer({"commands_changes": changes, "summary": summary}, status=202)
            body = remaining
        row = mutations.add_note(
            double, mr, body=body, author=ctx.caller, internal=bool(ctx.flag("internal", False))
        )
        planned = mutations.note_deliveries(double, row, action="create", event_uuid=ctx.event_uuid)
        answer = Answer(entities.note(double, row), status=201)
    webhooks.send_later(double, planned)
    return answer


def update_note(ctx: Context) -> Answer:
    body = ctx.required_text("body")
    double = ctx.double
    with double.lock:
        row = _note(ctx, _mr(ctx))
        if row.author_id != ctx.caller.id or row.system:
            raise ApiError(403, FORBIDDEN)
        if len(body) > NOTE_LIMIT:
            raise bad_request("body is too long")
        row.body = body
        row.updated_at = double.now()
        # GITLAB.md B5: edits fire the Note Hook with action "update" (16.11+).
        planned = mutations.note_deliveries(double, row, action="update", event_uuid=ctx.event_uuid)
        answer = Answer(entities.note(double, row))
    webhooks.send_later(double, planned)
    return answer


def delete_note(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        row = _note(ctx, _mr(ctx))
        if row.author_id != ctx.caller.id:
            raise ApiError(403, FORBIDDEN)
        del double.note_rows[row.id]
        return Answer(None, status=204)


NOTES = "/projects/{id}/merge_requests/{iid}/notes"
ROUTES: tuple[Route, ...] = (
    route("GET", "/projects/{id}/merge_requests", list_mrs),
    route("GET", "/projects/{id}/merge_requests/{iid}", get_mr),
    route("GET", "/projects/{id}/merge_requests/{iid}/diffs", mr_diffs),
    route("GET", NOTES, list_notes),
    route("POST", NOTES, create_note),
    route("GET", NOTES + "/{note_id}", get_note),
    route("PUT", NOTES + "/{note_id}", update_note),
    route("DELETE", NOTES + "/{note_id}", delete_note),
)
