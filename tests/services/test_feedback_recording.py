"""What the outbox holds after a run moves: the rows record_run_feedback writes (nothing is sent here)."""

from __future__ import annotations

from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.services.feedback import record_run_feedback
from stackyard.services.feedback_sender import BACKOFF_CAP, backoff
from stackyard.storage.tables import Feedback, Integration, Run, Stack


def make_stack(platform: Platform, *, kind: str = "stack", project_id: int | None = 7, autodeploy: bool = False) -> int:
    with platform.sessions.begin() as session:
        integration = Integration(name="gl", api_url="http://gitlab.invalid", token_encrypted=b"x",
                                  webhook_secret_encrypted=b"x")
        session.add(integration)
        session.flush()
        stack = Stack(name="app", kind=kind, integration_id=integration.id, repository="g/app",
                      project_id=project_id, vendor="commands", autodeploy=autodeploy)
        session.add(stack)
        session.flush()
        return stack.id


def move(platform: Platform, stack_id: int, states: list[str], **fields: object) -> list[bool]:
    """One run through `states`, recording feedback at each as the engine does; what each call returned."""
    answers = []
    with platform.sessions.begin() as session:
        stack = session.get_one(Stack, stack_id)
        run = Run(stack_id=stack_id, type=str(fields.pop("type", "tracked")), state=states[0], trigger="push",
                  commit_sha=str(fields.pop("sha", "a" * 40)), ref="main")
        session.add(run)
        for state in states:
            run.state = state
            for key, value in fields.items():
                setattr(run, key, value)
            answers.append(record_run_feedback(session, platform, run, stack))
    return answers


def rows(platform: Platform) -> list[tuple[str, str]]:
    with platform.sessions() as session:
        found = session.scalars(select(Feedback).order_by(Feedback.id))
        return [(f.kind, str(f.payload.get("state") or f.payload.get("status"))) for f in found]


def test_only_what_gitlab_would_take_is_recorded(platform: Platform) -> None:
    stack_id = make_stack(platform, autodeploy=True)
    answers = move(platform, stack_id, ["queued", "queued", "preparing", "planning"])
    assert answers == [True, False, True, False]
    assert rows(platform) == [("status", "pending"), ("status", "running")]


def test_a_deployment_starts_with_the_apply_and_a_comment_when_there_is_something_to_read(
    platform: Platform
) -> None:
    stack_id = make_stack(platform, autodeploy=True)
    move(platform, stack_id, ["queued", "planning", "confirmed", "applying", "finished", "finished"],
         summary_add=2, summary_change=0, summary_destroy=1)
    assert rows(platform) == [
        ("status", "pending"), ("status", "running"), ("deployment", "running"),
        ("status", "success"), ("deployment", "success"), ("comment", "finished"),
    ]


def test_modules_have_their_own_status_name_and_unresolved_projects_record_nothing(platform: Platform) -> None:
    stack_id = make_stack(platform, kind="module")
    move(platform, stack_id, ["queued"], type="test")
    with platform.sessions() as session:
        assert session.scalars(select(Feedback.payload)).one()["name"] == "stackyard/module/app"
        session.query(Feedback).delete()
        session.get_one(Stack, stack_id).project_id = None
        session.commit()
    assert move(platform, stack_id, ["queued", "finished"], type="test", sha="b" * 40) == [False, False]


def test_backoff_doubles_to_a_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30) == BACKOFF_CAP
