"""What GitLab should see for a run: commit status, merge request comment, deployment, names and links."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from stackyard.core.plans import PlanSummary
from stackyard.core.runs import RunState, RunType

# GitLab rejects (does not truncate) a commit status description over 255 characters (GITLAB.md C1).
DESCRIPTION_LIMIT = 255
# GitLab's note body limit, in characters (GITLAB.md C2).
NOTE_LIMIT = 1_000_000
# Plans longer than this are folded into <details> so the merge request stays readable.
COLLAPSE_AFTER_LINES = 20
ELLIPSIS = "…"

# --- names and links ---------------------------------------------------------------------------


def status_name(stack: str, *, module: bool = False) -> str:
    return f"stackyard/module/{stack}" if module else f"stackyard/{stack}"


def environment_name(stack: str) -> str:
    return f"stackyard/{stack}"


def stack_url(public_url: str, stack: str) -> str:
    return f"{public_url.rstrip('/')}/stacks/{quote(stack, safe='')}"


def run_url(public_url: str, run_id: int) -> str:
    return f"{public_url.rstrip('/')}/runs/{run_id}"


def comment_marker(stack: str) -> str:
    return f"<!-- stackyard:{stack} -->"


def is_stackyard_comment(body: str, stack: str) -> bool:
    """The marker must be the whole first line, so `app` never claims the comment of `app-2`."""
    return body.split("\n", 1)[0].rstrip("\r") == comment_marker(stack)


# --- cutting text ------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_JOINERS = frozenset({"\u200d"})


def _extends_previous(char: str) -> bool:
    """True for code points that belong to the character before them (accents, emoji modifiers)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me")
        or char in _JOINERS
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (flag sequences)
    )


def cut(text: str, limit: int, *, marker: str = ELLIPSIS) -> str:
    """Shorten to at most `limit` characters, ending with `marker`, never splitting an accent or emoji.

    GitLab counts characters (code points), as Python does, so the count here is the one it checks.
    """
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return marker[:limit]
    end = limit - len(marker)
    # Back up while the first dropped code point still belongs to the last kept one, and drop a
    # trailing joiner, so the result never ends halfway through a grapheme.
    while end > 0 and (_extends_previous(text[end]) or text[end - 1] in _JOINERS):
        end -= 1
    return text[:end].rstrip() + marker


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


# --- commit status -----------------------------------------------------------------------------

COMMIT_STATES: tuple[str, ...] = ("pending", "running", "success", "failed", "canceled", "skipped")
FINAL_COMMIT_STATES: frozenset[str] = frozenset({"success", "failed", "canceled", "skipped"})
_EVERY = frozenset(COMMIT_STATES)

# GitLab's commit status state machine as seen through POST /statuses (GITLAB.md C1,
# app/models/commit_status.rb). None and the final states mean "no pending/running job with this
# name and ref", so GitLab builds a new record and accepts anything.
GITLAB_STATUS_TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: _EVERY,
    "pending": _EVERY - {"pending"},
    "running": frozenset({"success", "failed", "canceled"}),
    **{final: _EVERY for final in FINAL_COMMIT_STATES},
}

_S = RunState
_COMMIT_STATE_FOR_RUN: dict[RunState, str] = {
    _S.QUEUED: "pending",
    _S.PREPARING: "running",
    _S.PLANNING: "running",
    _S.UNCONFIRMED: "running",
    _S.CONFIRMED: "running",
    _S.APPLYING: "running",
    _S.FINISHED: "success",
    _S.FAILED: "failed",
    _S.CANCELED: "canceled",
    _S.DISCARDED: "canceled",
}


@dataclass(frozen=True)
class CommitStatusUpdate:
    state: str
    description: str


def gitlab_accepts(previous_state: str | None, new_state: str) -> bool:
    return new_state in GITLAB_STATUS_TRANSITIONS.get(previous_state, frozenset())


def should_post(last_posted: CommitStatusUpdate | None, new: CommitStatusUpdate) -> bool:
    """Post only what changes GitLab's state: it refuses repeats and `running` -> `pending` (C1).

    A description cannot change without the state, so a same-state update is dropped. After a
    final state GitLab starts a new record, so a different description there is a real change
    (a later run on the same commit), while the identical one is a harmless repeat we skip.
    """
    if new.state not in _EVERY:
        return False
    if last_posted is None:
        return True
    if last_posted.state == new.state:
        return last_posted.state in FINAL_COMMIT_STATES and last_posted.description != new.description
    return gitlab_accepts(last_posted.state, new.state)


def _waits_for_confirmation(run_type: RunType, autodeploy: bool) -> bool:
    return run_type is RunType.TRACKED and not autodeploy


def _failed_phase(run_type: RunType, summary: PlanSummary | None, failed_during: RunState | None) -> str:
    if failed_during in (_S.CONFIRMED, _S.APPLYING):
        return "apply"
    if failed_during is _S.PREPARING:
        return "preparation"
    if failed_during is not None or summary is None:
        return "test" if run_type is RunType.TEST else "plan"
    # A known summary means planning completed; only a tracked run goes on to apply.
    return "apply" if run_type is RunType.TRACKED and not summary.is_empty else "run"


def _status_words(
    *,
    run_type: RunType,
    state: RunState,
    summary: PlanSummary | None,
    reason: str | None,
    failed_during: RunState | None,
) -> str:
    if state is _S.QUEUED:
        return "queued"
    if state is _S.PREPARING:
        return "preparing"
    if state is _S.PLANNING:
        return "testing" if run_type is RunType.TEST else "planning"
    if state is _S.UNCONFIRMED:
        return f"{summary.describe()}, awaiting confirmation" if summary else "awaiting confirmation"
    if state in (_S.CONFIRMED, _S.APPLYING):
        return "applying"
    if state is _S.FINISHED:
        if run_type is RunType.TEST:
            # A finished test run's reason says what became of the version ("v1.2.0 published").
            return reason or "tests passed"
        if run_type is RunType.TRACKED:
            if summary is None:
                return "applied"
            return "no changes" if summary.is_empty else "applied"
        return summary.describe() if summary else "planned"
    if state is _S.FAILED:
        words = f"{_failed_phase(run_type, summary, failed_during)} failed"
    elif state is _S.CANCELED:
        words = "canceled"
    else:
        words = "discarded"
    return f"{words}: {reason}" if reason else words


def commit_status_for(
    *,
    run_type: RunType,
    state: RunState,
    autodeploy: bool,
    summary: PlanSummary | None,
    reason: str | None = None,
    failed_during: RunState | None = None,
) -> CommitStatusUpdate:
    """The commit status a run in `state` should show (SPEC "What GitLab sees").

    A tracked run that will wait for confirmation stays `pending` while it prepares and plans, so
    that turning `running` at `unconfirmed` can carry "awaiting confirmation": GitLab only lets a
    description change together with the state (C1). `failed_during` (the state the run failed
    in) sharpens "plan failed" / "apply failed"; without it the phase is inferred from the summary.
    """
    gitlab_state = _COMMIT_STATE_FOR_RUN[state]
    if _waits_for_confirmation(run_type, autodeploy) and state in (_S.PREPARING, _S.PLANNING):
        gitlab_state = "pending"
    words = _status_words(
        run_type=run_type,
        state=state,
        summary=summary,
        reason=_one_line(reason) if reason else None,
        failed_during=failed_during,
    )
    text = f"{summary.format_short()} {words}" if summary is not None else words
    return CommitStatusUpdate(state=gitlab_state, description=cut(_one_line(text), DESCRIPTION_LIMIT))


# --- deployments -------------------------------------------------------------------------------

DEPLOYMENT_STATES: tuple[str, ...] = ("running", "success", "failed", "canceled")
_DEPLOYMENT_MODEL_STATES = frozenset({"created", "blocked", *DEPLOYMENT_STATES})

# Which existing deployment states each API status may follow (GITLAB.md C4, app/models/deployment.rb):
# `run` only from created/blocked, and each final event from anything but itself. None = no
# deployment yet: POST accepts any of the four statuses.
GITLAB_DEPLOYMENT_TRANSITIONS: dict[str, frozenset[str | None]] = {
    "running": frozenset({None, "created", "blocked"}),
    "success": frozenset({None, *(_DEPLOYMENT_MODEL_STATES - {"success"})}),
    "failed": frozenset({None, *(_DEPLOYMENT_MODEL_STATES - {"failed"})}),
    "canceled": frozenset({None, *(_DEPLOYMENT_MODEL_STATES - {"canceled"})}),
}


def deployment_accepts(previous: str | None, new: str) -> bool:
    return previous in GITLAB_DEPLOYMENT_TRANSITIONS.get(new, frozenset())


def deployment_status_for(*, run_type: RunType, state: RunState, summary: PlanSummary | None) -> str | None:
    """The status the run's deployment should have now, or None when the run is not a deployment (yet).

    Only tracked runs that change something, or whose summary is unknown (Ansible, commands), are
    deployments, and a deployment begins when the apply does (confirmed/applying -> `running`).
    Final states map to `success`/`failed`/`canceled`, but they only ever *update* a deployment:
    a run that fails or is canceled before applying never created one, so `deployment_step` turns
    those into nothing. Discarded runs never applied, so they are never deployments.
    """
    if run_type is not RunType.TRACKED:
        return None
    if summary is not None and summary.is_empty:
        return None
    return {
        _S.CONFIRMED: "running",
        _S.APPLYING: "running",
        _S.FINISHED: "success",
        _S.FAILED: "failed",
        _S.CANCELED: "canceled",
    }.get(state)


def deployment_step(existing: str | None, wanted: str | None, *, create_gave_up: bool = False) -> str | None:
    """`"create"`, `"update"` or None: what to do given the deployment's last status and the wanted one.

    A deployment is created only as `running` (SPEC: "created `running` and moved to ..."), and an
    update is sent only when GitLab's state machine would accept it (C4 answers 400 otherwise).
    A run whose create gave up (GitLab away for hours) recorded no deployment, though it applied:
    its final status creates one (or finds the one the create left behind), `running` moved at once.
    """
    if wanted is None:
        return None
    if existing is None:
        return "create" if wanted == "running" or create_gave_up else None
    return "update" if existing != wanted and deployment_accepts(existing, wanted) else None


# --- merge request comment ---------------------------------------------------------------------

_BACKTICK_RUN = re.compile(r"`+")


def _fence_for(text: str) -> str:
    """A fence longer than any backtick run in the text, so a plan can never close it early."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def _comment_state_words(run_type: RunType, state: RunState, summary: PlanSummary | None) -> str:
    if state is _S.FINISHED:
        if run_type is RunType.TEST:
            return "tests passed"
        if run_type is RunType.TRACKED:
            return "finished, no changes" if summary is not None and summary.is_empty else "applied"
        return "planned"
    if state is _S.UNCONFIRMED:
        return "awaiting confirmation"
    return str(state.value)


def _inline_code(text: str) -> str:
    fence = "`" * (max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def comment_body(
    *,
    stack: str,
    run_id: int,
    run_url: str,
    state: RunState,
    run_type: RunType,
    summary: PlanSummary | None,
    plan_text: str | None,
    log_url: str,
    commit_sha: str,
    limit: int = NOTE_LIMIT,
) -> str:
    """The merge request comment for a stack, at most `limit` characters (GitLab refuses more, C2).

    The marker comes first so the comment can be found again and updated in place. A plan too
    long for the note is cut at a line boundary, and a line says so and links the full log.
    """
    head = [
        comment_marker(stack),
        f"**Stackyard** · stack {_inline_code(stack)} · [{run_type.value} run #{run_id}]({run_url})",
        "",
        " · ".join(
            part
            for part in (
                f"**{_comment_state_words(run_type, state, summary)}**",
                f"`{summary.format_short()}` {summary.describe()}" if summary is not None else "",
                f"commit `{commit_sha[:8]}`",
            )
            if part
        ),
    ]
    footer = f"[Full log]({log_url})"
    fixed = "\n".join(head)

    text = (plan_text or "").rstrip("\n")
    if not text.strip():
        body = f"{fixed}\n\n{footer}"
        if len(body) > limit:
            raise ValueError(f"a comment cannot fit in {limit} characters")
        return body

    lines = text.split("\n")
    fence = _fence_for(text)
    collapse = len(lines) > COLLAPSE_AFTER_LINES
    if collapse:
        opening = f"<details><summary>Show plan ({len(lines)} lines)</summary>\n\n{fence}\n"
        closing = f"\n{fence}\n\n</details>"
    else:
        opening = f"{fence}\n"
        closing = f"\n{fence}"

    def assemble(shown: str, notice: str) -> str:
        return f"{fixed}\n\n{opening}{shown}{closing}\n\n{notice}{footer}"

    whole = assemble(text, "")
    if len(whole) <= limit:
        return whole

    # Reserve room for the longest notice we might write, then keep whole lines while they fit.
    def notice_for(omitted_lines: int) -> str:
        return f"The plan was cut here: {omitted_lines} more lines are in the full log.\n\n"

    budget = limit - len(assemble("", notice_for(len(lines))))
    if budget < 0:
        minimal = f"{fixed}\n\n{notice_for(len(lines))}{footer}"
        if len(minimal) > limit:
            raise ValueError(f"a comment cannot fit in {limit} characters")
        return minimal
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = len(line) + (1 if kept else 0)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    if not kept:
        # A single enormous first line: show its start rather than nothing.
        kept = [cut(lines[0], max(budget, 0))]
    omitted = len(lines) - len(kept) + (1 if len(kept[-1]) < len(lines[len(kept) - 1]) else 0)
    return assemble("\n".join(kept), notice_for(max(omitted, 1)))


# --- outbox decisions --------------------------------------------------------------------------

UNTOUCHED_DESCRIPTION = "no files of this stack changed in this commit"
# A comment is rewritten when there is something to read: a plan awaiting confirmation, or an end.
# Every edit also fires a Note Hook back at us (GITLAB.md B5), so intermediate states are not posted.
COMMENT_STATES: frozenset[RunState] = frozenset(
    {_S.UNCONFIRMED, _S.FINISHED, _S.FAILED, _S.CANCELED, _S.DISCARDED}
)


def untouched_status() -> CommitStatusUpdate:
    """A passing status for a commit that does not touch a stack, so "Pipelines must succeed" is not
    left waiting for a status that will never come (GITLAB.md C1: no pipeline blocks merging)."""
    return CommitStatusUpdate(state="success", description=UNTOUCHED_DESCRIPTION)


def status_ref(ref: str, *, from_fork: bool, merge_request_iid: int | None) -> str:
    """The `ref` a commit status names: the branch, or for a fork's merge request the MR head ref
    that exists in the target project (SPEC "What GitLab sees"; GITLAB.md C1 "Forks")."""
    if from_fork and merge_request_iid is not None:
        return f"refs/merge-requests/{merge_request_iid}/head"
    return ref.removeprefix("refs/heads/")


def choose_status(last_sent: CommitStatusUpdate | None, waiting: list[CommitStatusUpdate]) -> int | None:
    """Which of the waiting updates of one channel (oldest first) to post now; those before it are stale.

    The newest update GitLab would accept after `last_sent` wins: it makes the ones before it stale
    (skipping pending -> running straight to success is fine, GitLab accepts any state after none or
    pending). An older update is only chosen when the newer ones would be refused from where GitLab
    stands (`running` -> `pending` of a second run on the same commit), so that a final state is
    reached first. None: nothing waiting would be accepted or change anything.
    """
    for index in range(len(waiting) - 1, -1, -1):
        if should_post(last_sent, waiting[index]):
            return index
    return None
