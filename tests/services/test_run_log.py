"""A run's log in the database: masked, in order, and cut at the size limit with a notice."""

from __future__ import annotations

from stackyard.bootstrap import Platform
from stackyard.runner.masking import Masker
from stackyard.services.run_log import RunLogWriter, log_lines, log_text
from stackyard.storage.tables import Integration, Run, Stack


def make_run(platform: Platform) -> int:
    with platform.sessions.begin() as session:
        integration = Integration(name="gl", api_url="https://gitlab.example.com", token_encrypted=b"x",
                                  webhook_secret_encrypted=b"y")
        session.add(integration)
        session.flush()
        stack = Stack(name="app", integration_id=integration.id, repository="g/p", vendor="commands")
        session.add(stack)
        session.flush()
        run = Run(stack_id=stack.id, type="proposed", state="planning", trigger="manual", commit_sha="a" * 40,
                  ref="main")
        session.add(run)
        session.flush()
        return run.id


def test_lines_are_masked_numbered_and_cut_at_the_limit(platform: Platform) -> None:
    run_id = make_run(platform)
    writer = RunLogWriter(platform.sessions, run_id, masker=Masker(["s3cret"]), limit=200)
    for i in range(100):
        writer("output", f"line {i} with s3cret")
    writer.flush()
    with platform.sessions() as session:
        lines = log_lines(session, run_id)
        text = log_text(session, run_id)
        run = session.get(Run, run_id)
        assert run is not None and run.log_truncated
    assert [ln.seq for ln in lines] == list(range(1, len(lines) + 1))
    assert 5 < len(lines) < 20
    assert "s3cret" not in text and "line 0 with ***" in text
    assert "log cut here" in lines[-1].line
    # A second writer for the same run (the apply after a plan) continues the numbering.
    more = RunLogWriter(platform.sessions, run_id, masker=Masker([]), limit=10_000)
    more("stackyard", "applying")
    more.flush()
    with platform.sessions() as session:
        assert log_lines(session, run_id, after=len(lines))[0].seq == len(lines) + 1
