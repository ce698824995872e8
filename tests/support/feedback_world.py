"""A GitLab double, an integration and stacks, and runs moved the way the run engine moves them.

The engine records feedback in the transaction that changes a run and enqueues send_feedback after
it commits; `start_run` and `advance` do exactly that, so tests see what GitLab would receive.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.services.feedback import OPEN_STATES, record_run_feedback
from stackyard.services.integrations import create_integration
from stackyard.services.stacks import create_stack
from stackyard.storage.tables import Feedback, Run, Stack, utcnow
from support.queue import drain

TOKEN = "glpat-feedback-bot"
PROJECT = "infra/live"


@dataclass
class World:
    platform: Platform
    double: GitLabDouble
    base_url: str

    @property
    def project_id(self) -> int:
        return int(self.double.project(PROJECT).id)

    def add_stack(self, name: str, **fields: Any) -> None:
        create_stack(self.platform, {
            "name": name, "integration": "gl", "repository": PROJECT, "project_root": name,
            "vendor": "commands", "commands": {"plan": ["true"]}, "install_webhook": False, **fields,
        })

    def status_posts(self, *, name: str | None = None) -> list[tuple[str, int]]:
        """(state, HTTP answer) of every commit status POST GitLab received, in order."""
        return [
            (str((r.body or {}).get("state")), r.status)
            for r in self.double.requests
            if r.method == "POST" and "/statuses/" in r.path
            and (name is None or (r.body or {}).get("name") == name)
        ]

    def accepted_states(self, *, name: str | None = None) -> list[str]:
        return [state for state, code in self.status_posts(name=name) if code == 201]

    def refused(self) -> list[tuple[str, str, int]]:
        """Requests GitLab answered 4xx for a reason other than an injected fault."""
        return [(r.method, r.path, r.status) for r in self.double.requests if 400 <= r.status < 429]


@contextmanager
def gitlab_world(platform: Platform, *, files: dict[str, str] | None = None) -> Iterator[World]:
    double = GitLabDouble()
    double.add_user("stackyard-bot", token=TOKEN, scopes=("api",), expires_at=None, bot=True)
    double.add_user("alice", token="glpat-alice")
    double.add_project(PROJECT, default_branch="main",
                       files=files or {"app/main.tf": "# app\n", "web/main.tf": "# web\n", "README.md": "hi\n"})
    with serve_double(double) as base_url:
        create_integration(platform, name="gl", kind="gitlab", api_url=base_url, token=TOKEN)
        yield World(platform=platform, double=double, base_url=base_url)


def start_run(
    platform: Platform,
    stack_name: str,
    *,
    sha: str,
    ref: str,
    type: str = "proposed",
    trigger: str = "push",
    merge_request_iid: int | None = None,
    from_fork: bool = False,
    send: bool = True,
) -> int:
    """A queued run, created as the engine creates one: feedback recorded in the same transaction."""
    with platform.sessions.begin() as session:
        stack = session.scalars(select(Stack).where(Stack.name == stack_name)).one()
        run = Run(stack_id=stack.id, type=type, state="queued", trigger=trigger, commit_sha=sha, ref=ref,
                  merge_request_iid=merge_request_iid, from_fork=from_fork)
        session.add(run)
        session.flush()
        added = record_run_feedback(session, platform, run, stack)
        run_id = run.id
    if added and send:
        platform.tasks.send_feedback()
        drain(platform)
    return run_id


def advance(platform: Platform, run_id: int, state: str, *, send: bool = True, **fields: Any) -> bool:
    """Move a run (and set summary_add=..., plan_text=..., failed_during=...) and record its feedback.

    With send (the default) the worker keeps up: what was recorded is sent before this returns.
    """
    with platform.sessions.begin() as session:
        run = session.get_one(Run, run_id)
        stack = session.get_one(Stack, run.stack_id)
        run.state = state
        for key, value in fields.items():
            setattr(run, key, value)
        added = record_run_feedback(session, platform, run, stack)
    if added and send:
        platform.tasks.send_feedback()
        drain(platform)
    return added


SUMMARY_ONE_ADD = {"summary_add": 1, "summary_change": 0, "summary_destroy": 0}


def open_items(platform: Platform) -> list[Feedback]:
    with platform.sessions() as session:
        return list(session.scalars(select(Feedback).where(Feedback.state.in_(OPEN_STATES))))


def items_of(platform: Platform, run_id: int) -> list[Feedback]:
    with platform.sessions() as session:
        return list(session.scalars(select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.id)))


def make_due(platform: Platform) -> int:
    """Time passes: every waiting item (backoff, Retry-After, a lapsed lease) is due now."""
    with platform.sessions.begin() as session:
        result = session.execute(
            update(Feedback).where(Feedback.state.in_(OPEN_STATES))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        return int(getattr(result, "rowcount", 0))


def settle(platform: Platform, *, rounds: int = 60) -> int:
    """Drain the queue, letting backoff time pass between rounds, until nothing is left to send."""
    for number in range(rounds):
        drain(platform)
        if not open_items(platform):
            return number
        make_due(platform)
        platform.tasks.send_feedback()
    raise AssertionError(f"feedback still waiting after {rounds} rounds: {open_items(platform)}")
