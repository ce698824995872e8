"""What GitLab sees for a run: commit statuses, deployments and the merge request comment."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.core.plans import PlanSummary
from stackyard.core.reports import (
    COLLAPSE_AFTER_LINES,
    DESCRIPTION_LIMIT,
    UNTOUCHED_DESCRIPTION,
    CommitStatusUpdate,
    choose_status,
    comment_body,
    comment_marker,
    commit_status_for,
    cut,
    deployment_accepts,
    deployment_status_for,
    deployment_step,
    environment_name,
    gitlab_accepts,
    is_stackyard_comment,
    run_url,
    should_post,
    stack_url,
    status_name,
    status_ref,
    untouched_status,
)
from stackyard.core.runs import TERMINAL, TRANSITIONS, RunState, RunType

S = RunState
ONE_ADD = PlanSummary(add=1, change=0, destroy=0)
NO_CHANGE = PlanSummary(add=0, change=0, destroy=0)
# States that a run only reaches once its plan finished, so from then on its summary is known.
PLANNED = frozenset({S.UNCONFIRMED, S.CONFIRMED, S.APPLYING, S.FINISHED})
FINAL_COMMIT_STATE = {
    S.FINISHED: "success",
    S.FAILED: "failed",
    S.CANCELED: "canceled",
    S.DISCARDED: "canceled",
}


class FakeGitLabStatus:
    """GitLab's side of one (name, ref) commit status, following the table in GITLAB.md C1."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.received: list[CommitStatusUpdate] = []

    def post(self, update: CommitStatusUpdate) -> None:
        assert len(update.description) <= DESCRIPTION_LIMIT
        assert gitlab_accepts(self.current, update.state), f"GitLab refuses {self.current} -> {update.state}"
        self.current = update.state
        self.received.append(update)


def report(
    path: list[RunState],
    *,
    run_type: RunType,
    autodeploy: bool,
    summary: PlanSummary | None = ONE_ADD,
    reason: str | None = None,
) -> list[CommitStatusUpdate]:
    """Drive a run through `path` the way the reporting service does, returning what GitLab got."""
    gitlab = FakeGitLabStatus()
    last: CommitStatusUpdate | None = None
    known: PlanSummary | None = None
    for state in path:
        if state in PLANNED:
            known = summary
        update = commit_status_for(
            run_type=run_type, state=state, autodeploy=autodeploy, summary=known, reason=reason
        )
        if should_post(last, update):
            gitlab.post(update)
            last = update
    return gitlab.received


# --- names -------------------------------------------------------------------------------------


def test_names_and_links() -> None:
    assert status_name("app") == "stackyard/app"
    assert status_name("vpc", module=True) == "stackyard/module/vpc"
    assert environment_name("app") == "stackyard/app"
    assert stack_url("https://sy.example/", "app") == "https://sy.example/stacks/app"
    assert run_url("https://sy.example", 42) == "https://sy.example/runs/42"


# --- commit status: tables ---------------------------------------------------------------------

FLOWS = [
    pytest.param(
        RunType.PROPOSED,
        False,
        [S.QUEUED, S.PREPARING, S.PLANNING, S.FINISHED],
        [("pending", "queued"), ("running", "preparing"), ("success", "+1 ~0 -0 would add 1 resource")],
        id="proposed",
    ),
    pytest.param(
        RunType.TRACKED,
        True,
        [S.QUEUED, S.PREPARING, S.PLANNING, S.CONFIRMED, S.APPLYING, S.FINISHED],
        [("pending", "queued"), ("running", "preparing"), ("success", "+1 ~0 -0 applied")],
        id="tracked-autodeploy",
    ),
    pytest.param(
        RunType.TRACKED,
        False,
        [S.QUEUED, S.PREPARING, S.PLANNING, S.UNCONFIRMED, S.CONFIRMED, S.APPLYING, S.FINISHED],
        [
            ("pending", "queued"),
            ("running", "+1 ~0 -0 would add 1 resource, awaiting confirmation"),
            ("success", "+1 ~0 -0 applied"),
        ],
        id="tracked-confirmed",
    ),
    pytest.param(
        RunType.TRACKED,
        False,
        [S.QUEUED, S.PREPARING, S.PLANNING, S.UNCONFIRMED, S.DISCARDED],
        [
            ("pending", "queued"),
            ("running", "+1 ~0 -0 would add 1 resource, awaiting confirmation"),
            ("canceled", "+1 ~0 -0 discarded"),
        ],
        id="tracked-discarded",
    ),
    pytest.param(
        RunType.TRACKED,
        False,
        [S.QUEUED, S.PREPARING, S.PLANNING, S.FAILED],
        [("pending", "queued"), ("failed", "plan failed")],
        id="tracked-plan-fails-while-pending",
    ),
    pytest.param(
        RunType.PROPOSED,
        False,
        [S.QUEUED, S.CANCELED],
        [("pending", "queued"), ("canceled", "canceled")],
        id="proposed-canceled-in-queue",
    ),
]


@pytest.mark.parametrize(("run_type", "autodeploy", "path", "expected"), FLOWS)
def test_posted_statuses(
    run_type: RunType, autodeploy: bool, path: list[RunState], expected: list[tuple[str, str]]
) -> None:
    received = report(path, run_type=run_type, autodeploy=autodeploy)
    assert [(u.state, u.description) for u in received] == expected


def test_tracked_run_waiting_for_confirmation_stays_pending_while_it_plans() -> None:
    for state in (S.QUEUED, S.PREPARING, S.PLANNING):
        update = commit_status_for(run_type=RunType.TRACKED, state=state, autodeploy=False, summary=None)
        assert update.state == "pending"
    unconfirmed = commit_status_for(
        run_type=RunType.TRACKED, state=S.UNCONFIRMED, autodeploy=False, summary=ONE_ADD
    )
    assert unconfirmed.state == "running"
    assert "awaiting confirmation" in unconfirmed.description
    assert unconfirmed.description.startswith("+1 ~0 -0 would add 1 resource")


def test_tracked_run_without_changes_finishes_without_confirmation() -> None:
    received = report(
        [S.QUEUED, S.PREPARING, S.PLANNING, S.FINISHED],
        run_type=RunType.TRACKED,
        autodeploy=False,
        summary=NO_CHANGE,
    )
    assert [(u.state, u.description) for u in received] == [
        ("pending", "queued"),
        ("success", "+0 ~0 -0 no changes"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        ({"state": S.FAILED, "summary": None, "reason": "exit status 1"}, "plan failed: exit status 1"),
        ({"state": S.FAILED, "summary": ONE_ADD, "reason": "boom"}, "+1 ~0 -0 apply failed: boom"),
        ({"state": S.FAILED, "summary": None, "failed_during": S.APPLYING}, "apply failed"),
        ({"state": S.FAILED, "summary": None, "failed_during": S.PREPARING}, "preparation failed"),
        (
            {"state": S.CANCELED, "summary": None, "reason": "merge requests from forks may not run"},
            "canceled: merge requests from forks may not run",
        ),
        ({"state": S.PLANNING, "summary": None}, "planning"),
        ({"state": S.UNCONFIRMED, "summary": None}, "awaiting confirmation"),
        ({"state": S.APPLYING, "summary": ONE_ADD}, "+1 ~0 -0 applying"),
    ],
)
def test_descriptions(kwargs: dict[str, object], description: str) -> None:
    update = commit_status_for(run_type=RunType.TRACKED, autodeploy=True, **kwargs)  # type: ignore[arg-type]
    assert update.description == description


def test_reason_is_one_line() -> None:
    update = commit_status_for(
        run_type=RunType.PROPOSED,
        state=S.FAILED,
        autodeploy=False,
        summary=None,
        reason="Error: bad\n\n  thing\thappened\n",
    )
    assert update.description == "plan failed: Error: bad thing happened"


# --- commit status: GitLab's transition table --------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "new", "accepted"),
    [
        (None, "pending", True),
        (None, "running", True),
        ("pending", "pending", False),
        ("pending", "running", True),
        ("running", "running", False),
        ("running", "pending", False),
        ("running", "skipped", False),
        ("running", "success", True),
        ("success", "pending", True),
        ("failed", "running", True),
        ("canceled", "canceled", True),
    ],
)
def test_gitlab_accepts(previous: str | None, new: str, accepted: bool) -> None:
    assert gitlab_accepts(previous, new) is accepted


def test_should_post() -> None:
    running = CommitStatusUpdate("running", "planning")
    assert should_post(None, running)
    assert not should_post(running, CommitStatusUpdate("running", "applying"))
    assert not should_post(running, CommitStatusUpdate("pending", "queued"))
    assert should_post(running, CommitStatusUpdate("success", "applied"))
    done = CommitStatusUpdate("success", "applied")
    assert not should_post(done, done)
    # A final state ends GitLab's record: a later run on the commit starts a new one.
    assert should_post(done, CommitStatusUpdate("pending", "queued"))
    assert should_post(done, CommitStatusUpdate("success", "+1 ~0 -0 applied"))
    assert not should_post(None, CommitStatusUpdate("created", "x"))


# --- commit status: every valid run path -------------------------------------------------------


@st.composite
def run_paths(draw: st.DrawFn) -> list[RunState]:
    path = [S.QUEUED]
    while path[-1] not in TERMINAL:
        path.append(draw(st.sampled_from(sorted(TRANSITIONS[path[-1]]))))
    return path


summaries = st.none() | st.builds(
    PlanSummary,
    add=st.integers(0, 10**6),
    change=st.integers(0, 10**6),
    destroy=st.integers(0, 10**6),
)


@settings(max_examples=400)
@given(
    path=run_paths(),
    run_type=st.sampled_from(list(RunType)),
    autodeploy=st.booleans(),
    summary=summaries,
    reason=st.none() | st.text(max_size=2000),
)
def test_no_path_makes_gitlab_refuse_a_status(
    path: list[RunState], run_type: RunType, autodeploy: bool, summary: PlanSummary | None, reason: str | None
) -> None:
    received = report(path, run_type=run_type, autodeploy=autodeploy, summary=summary, reason=reason)
    # The first post is always the queued one, and the run's final state always lands.
    assert received[0].state == "pending"
    assert received[-1].state == FINAL_COMMIT_STATE[path[-1]]
    if run_type is RunType.TRACKED and not autodeploy and S.UNCONFIRMED in path:
        shown = [u for u in received if u.state == "running"]
        assert shown and "awaiting confirmation" in shown[0].description


@given(
    state=st.sampled_from(list(RunState)),
    run_type=st.sampled_from(list(RunType)),
    summary=summaries,
    reason=st.text(min_size=200, max_size=5000) | st.just("é" * 300) | st.just("👩‍👩‍👧" * 300),
)
def test_description_fits_gitlab_limit(
    state: RunState, run_type: RunType, summary: PlanSummary | None, reason: str
) -> None:
    update = commit_status_for(
        run_type=run_type, state=state, autodeploy=False, summary=summary, reason=reason
    )
    assert len(update.description) <= DESCRIPTION_LIMIT


def test_cut_never_splits_accents_or_emoji() -> None:
    accented = "e\u0301" * 300
    out = cut(accented, 255)
    assert len(out) <= 255 and out.endswith("…")
    assert out[:-1].endswith("e\u0301")
    family = "👩\u200d👩\u200d👧" * 100
    out = cut(family, 100)
    assert out[:-1].endswith("👧") and not out[:-1].endswith("\u200d")
    assert cut("short", 255) == "short"


# --- deployments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "new", "accepted"),
    [
        (None, "running", True),
        (None, "success", True),
        ("running", "running", False),
        ("running", "success", True),
        ("success", "success", False),
        ("success", "running", False),
        ("success", "failed", True),
        ("failed", "failed", False),
        ("canceled", "canceled", False),
        ("running", "created", False),
        ("running", "blocked", False),
    ],
)
def test_deployment_accepts(previous: str | None, new: str, accepted: bool) -> None:
    assert deployment_accepts(previous, new) is accepted


def test_deployment_status_for() -> None:
    tracked = RunType.TRACKED
    assert deployment_status_for(run_type=RunType.PROPOSED, state=S.FINISHED, summary=ONE_ADD) is None
    assert deployment_status_for(run_type=tracked, state=S.PLANNING, summary=None) is None
    assert deployment_status_for(run_type=tracked, state=S.UNCONFIRMED, summary=ONE_ADD) is None
    assert deployment_status_for(run_type=tracked, state=S.CONFIRMED, summary=ONE_ADD) == "running"
    assert deployment_status_for(run_type=tracked, state=S.APPLYING, summary=None) == "running"
    assert deployment_status_for(run_type=tracked, state=S.FINISHED, summary=ONE_ADD) == "success"
    assert deployment_status_for(run_type=tracked, state=S.FINISHED, summary=NO_CHANGE) is None
    assert deployment_status_for(run_type=tracked, state=S.FAILED, summary=None) == "failed"
    assert deployment_status_for(run_type=tracked, state=S.DISCARDED, summary=ONE_ADD) is None
    # A failure before applying never created a deployment, so it does not make one now.
    assert deployment_step(None, "failed") is None
    assert deployment_step(None, "running") == "create"
    assert deployment_step("running", "running") is None
    assert deployment_step("running", "canceled") == "update"
    # ... unless the run applied and its create gave up: the final status makes the deployment then.
    assert deployment_step(None, "success", create_gave_up=True) == "create"
    assert deployment_step("running", "success", create_gave_up=True) == "update"


@settings(max_examples=300)
@given(path=run_paths(), run_type=st.sampled_from(list(RunType)), summary=summaries)
def test_no_path_makes_gitlab_refuse_a_deployment(
    path: list[RunState], run_type: RunType, summary: PlanSummary | None
) -> None:
    existing: str | None = None
    sent: list[str] = []
    known: PlanSummary | None = None
    for state in path:
        if state in PLANNED:
            known = summary
        wanted = deployment_status_for(run_type=run_type, state=state, summary=known)
        assert wanted in (None, "running", "success", "failed", "canceled")
        step = deployment_step(existing, wanted)
        if step is not None:
            assert wanted is not None and deployment_accepts(existing, wanted)
            assert step == ("create" if existing is None else "update")
            existing = wanted
            sent.append(wanted)
    applied = S.CONFIRMED in path or S.APPLYING in path
    if run_type is RunType.TRACKED and applied and not (summary is not None and summary.is_empty):
        assert sent[0] == "running"
        assert sent[-1] == {S.FINISHED: "success", S.FAILED: "failed", S.CANCELED: "canceled"}[path[-1]]
    else:
        assert sent == []


# --- merge request comment ---------------------------------------------------------------------


def body(plan: str | None, *, limit: int = 1_000_000, stack: str = "app") -> str:
    return comment_body(
        stack=stack,
        run_id=7,
        run_url="https://sy.example/runs/7",
        state=S.FINISHED,
        run_type=RunType.PROPOSED,
        summary=ONE_ADD,
        plan_text=plan,
        log_url="https://sy.example/runs/7#log",
        commit_sha="0123456789abcdef0123456789abcdef01234567",
        limit=limit,
    )


def fenced_block(text: str) -> tuple[str, str]:
    """The fence and the content of the first fenced block in `text`."""
    match = re.search(r"^(`{3,})\n(.*?)\n\1$", text, re.S | re.M)
    assert match, text
    return match[1], match[2]


def test_comment_marker_and_contents() -> None:
    text = body("Plan: 1 to add, 0 to change, 0 to destroy.")
    assert text.startswith(comment_marker("app") + "\n")
    assert is_stackyard_comment(text, "app")
    assert not is_stackyard_comment(text, "ap")
    assert not is_stackyard_comment(body("x", stack="app-2"), "app")
    assert not is_stackyard_comment("hello " + comment_marker("app"), "app")
    assert "[proposed run #7](https://sy.example/runs/7)" in text
    assert "`+1 ~0 -0` would add 1 resource" in text
    assert "`01234567`" in text
    assert "<details>" not in text
    assert fenced_block(text)[1] == "Plan: 1 to add, 0 to change, 0 to destroy."
    assert "[Full log](https://sy.example/runs/7#log)" in text


def test_comment_without_plan() -> None:
    text = body(None)
    assert text.startswith(comment_marker("app")) and "```" not in text


def test_long_plan_is_collapsed() -> None:
    plan = "\n".join(f"line {i}" for i in range(COLLAPSE_AFTER_LINES + 5))
    text = body(plan)
    assert f"<details><summary>Show plan ({COLLAPSE_AFTER_LINES + 5} lines)</summary>" in text
    assert text.index("<details>") < text.index("```") < text.index("</details>")
    assert fenced_block(text)[1] == plan


def test_plan_containing_fences_cannot_close_the_block() -> None:
    plan = 'resource "x" {\n```\n  ````\nEOT\n```` not a close\n}'
    fence, content = fenced_block(body(plan))
    assert content == plan
    assert len(fence) == 5


def test_comment_cut_to_gitlab_limit_with_link() -> None:
    plan = "\n".join(f"  + resource {i} " + "x" * 80 for i in range(20_000))  # ~2 MB
    text = body(plan)
    assert len(text) <= 1_000_000
    assert "The plan was cut here" in text
    assert text.rstrip().endswith("[Full log](https://sy.example/runs/7#log)")
    fence, content = fenced_block(text)
    assert plan.startswith(content)
    assert text.count(fence) == 2


def test_comment_cut_inside_one_enormous_line() -> None:
    text = body("y" * 50_000, limit=5_000)
    assert len(text) <= 5_000
    assert "The plan was cut here: 1 more lines" in text


@settings(max_examples=200)
@given(
    plan=st.text(alphabet=st.sampled_from("ab`\n é👍"), max_size=4000),
    limit=st.integers(min_value=600, max_value=3000),
)
def test_comment_always_fits_and_keeps_the_fence_closed(plan: str, limit: int) -> None:
    text = body(plan, limit=limit)
    assert len(text) <= limit
    assert is_stackyard_comment(text, "app")
    if plan.strip() and "```" in text:
        fence, content = fenced_block(text)
        assert plan.rstrip("\n").startswith(content.removesuffix("…"))
        assert not any(line.strip().startswith(fence) for line in content.split("\n"))


# --- outbox decisions --------------------------------------------------------------------------


def U(state: str, description: str = "") -> CommitStatusUpdate:
    return CommitStatusUpdate(state=state, description=description or state)


def test_choose_status_jumps_to_the_newest_acceptable_update() -> None:
    assert choose_status(None, [U("pending"), U("running"), U("success")]) == 2
    assert choose_status(U("pending"), [U("running")]) == 0
    # A second run's `pending` after the first's `running` would be refused: its final state first.
    assert choose_status(U("running"), [U("success", "run 1"), U("pending", "run 2")]) == 0
    assert choose_status(U("success", "run 1"), [U("pending", "run 2")]) == 0
    # Nothing acceptable or nothing new: running -> running, running -> pending.
    assert choose_status(U("running"), [U("running", "other words"), U("pending")]) is None
    assert choose_status(None, []) is None


@given(st.lists(st.sampled_from(["pending", "running", "success", "failed", "canceled"]), max_size=8),
       st.sampled_from([None, "pending", "running", "success", "failed"]))
@settings(max_examples=300)
def test_choose_status_never_picks_a_refused_transition(states: list[str], last: str | None) -> None:
    waiting = [U(state, f"{state} {n}") for n, state in enumerate(states)]
    last_sent = U(last) if last else None
    chosen = choose_status(last_sent, waiting)
    if chosen is not None:
        assert gitlab_accepts(last, waiting[chosen].state)
        # Nothing newer would have been accepted: the chosen one is the newest possible.
        assert not any(should_post(last_sent, later) for later in waiting[chosen + 1:])


def test_status_ref_for_branches_and_forks() -> None:
    assert status_ref("refs/heads/feature", from_fork=False, merge_request_iid=None) == "feature"
    assert status_ref("feature", from_fork=False, merge_request_iid=4) == "feature"
    assert status_ref("patch", from_fork=True, merge_request_iid=4) == "refs/merge-requests/4/head"


def test_untouched_status_passes_and_fits() -> None:
    update = untouched_status()
    assert update.state == "success" and update.description == UNTOUCHED_DESCRIPTION
    assert len(update.description) <= DESCRIPTION_LIMIT
