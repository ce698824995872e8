"""What a worker does with a run: claim it, fetch the commit, plan, apply when allowed, and report.

Every state change commits together with its outbox entry (services/run_changes.py), so GitLab
learns of each one even if this process dies right after.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from stackyard.core.plans import PlanSummary
from stackyard.core.ports import ForgeAuthError, ForgeError
from stackyard.core.runs import TERMINAL, RunState, RunType
from stackyard.logs import get_logger
from stackyard.runner.environment import build_run_env, run_vars
from stackyard.runner.masking import Masker
from stackyard.runner.module_archive import ArchiveTooLargeError
from stackyard.runner.vendors import TESTERS, VENDORS, ApplyResult, PlanResult, RunContext
from stackyard.runner.workspace import Workspace, WorkspaceCache
from stackyard.services import module_tests
from stackyard.services.integrations import forge_for
from stackyard.services.run_changes import change_state, dispatch, locked_run, startable_runs, unit_of_work
from stackyard.services.run_log import RunLogWriter
from stackyard.services.stacks import stack_secrets
from stackyard.services.token_health import note_token_failure
from stackyard.storage.tables import Delivery, Integration, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)

DELIVERY_WAIT = timedelta(minutes=10)


@dataclass(frozen=True)
class Job:
    """A snapshot of what the run needs, read once, so no database session stays open during a plan."""

    run_id: int
    run_type: RunType
    stack_id: int
    stack: str
    vendor: str
    commands: dict[str, Any]
    project_root: str
    project_id: int
    integration: Integration
    commit_sha: str
    ref: str
    autodeploy: bool
    environment: dict[str, str]
    secrets: dict[str, str]
    time_limit: int
    phase: str  # "plan" or "apply"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def execute_run(platform: Platform, run_id: int) -> None:
    """Safe to call for any run at any time: only a queued run that may start, or a confirmed one, is claimed."""
    job = _claim(platform, run_id)
    if job is None:
        return
    masker = Masker(job.secrets.values())
    writer = RunLogWriter(platform.sessions, run_id, masker=masker, limit=platform.settings.run_log_limit)
    cancel = threading.Event()
    heartbeat = Heartbeat(platform, run_id, cancel=cancel, writer=writer, hand_back=job.phase == "plan")
    heartbeat.start()
    try:
        if job.phase == "plan":
            _plan_then_maybe_apply(platform, job, writer, masker, cancel, heartbeat)
        else:
            _apply(platform, job, writer, masker, cancel)
    except ForgeError as exc:
        writer("stackyard", f"GitLab refused or failed a request: {exc}")
        _end(platform, job, RunState.FAILED, reason=f"GitLab: {exc}")
        if isinstance(exc, ForgeAuthError):
            note_token_failure(platform, job.integration.id)
    except Exception as exc:
        log.exception("run crashed", run=run_id)
        writer("stackyard", f"Stackyard could not finish this run: {type(exc).__name__}: {exc}")
        _end(platform, job, RunState.FAILED, reason=f"internal error: {type(exc).__name__}: {exc}")
    finally:
        heartbeat.stop()
        writer.flush()
        with unit_of_work(platform) as (session, after):
            dispatch(session, after, job.stack_id)


def _plan_then_maybe_apply(
    platform: Platform,
    job: Job,
    writer: RunLogWriter,
    masker: Masker,
    cancel: threading.Event,
    heartbeat: Heartbeat,
) -> None:
    writer("stackyard", f"fetching {job.commit_sha[:12]} of project {job.project_id} through GitLab's archive API")
    cache = WorkspaceCache(platform.settings.workspace_dir)
    forge = forge_for(platform, job.integration)
    source = cache.source_for(
        f"{job.integration.id}/{job.project_id}/{job.commit_sha}",
        lambda dest: forge.download_archive(job.project_id, job.commit_sha, dest),
    )
    workspace = cache.new_workspace(job.run_id, source, job.project_root)
    if heartbeat.handed_back:
        _hand_back(platform, job, writer)
        workspace.cleanup()
        return
    if cancel.is_set():
        _end(platform, job, RunState.CANCELED, reason="canceled by a person before planning")
        workspace.cleanup()
        return
    if not _move(platform, job, RunState.PREPARING, RunState.PLANNING):
        workspace.cleanup()
        return
    if job.run_type is RunType.TEST:
        _test_module(platform, job, workspace, writer, masker, cancel, heartbeat)
        workspace.cleanup()
        return
    writer("stackyard", f"planning with {job.vendor}")
    result = VENDORS[job.vendor].plan(_context(platform, job, workspace, writer, masker, cancel, phase="plan"))
    if heartbeat.handed_back:
        _hand_back(platform, job, writer)
        workspace.cleanup()
        return
    if not _record_plan(platform, job, result, writer):
        workspace.cleanup()
        return
    if job.run_type is not RunType.TRACKED:
        _end(platform, job, RunState.FINISHED)
        workspace.cleanup()
        return
    if result.summary is not None and result.summary.is_empty:
        writer("stackyard", "no changes: nothing to apply")
        _end(platform, job, RunState.FINISHED)
        workspace.cleanup()
        return
    if not job.autodeploy:
        writer("stackyard", "waiting for confirmation (the stack's autodeploy is off)")
        _move(platform, job, RunState.PLANNING, RunState.UNCONFIRMED)
        return
    # From here on a shutdown waits for the apply to end: half an apply cannot be handed back.
    heartbeat.hand_back_allowed = False
    # One transaction: a `confirmed` run is what a worker applies when a stack is dispatched, so another
    # worker must never see this one in that state.
    if _move(platform, job, RunState.PLANNING, RunState.CONFIRMED, RunState.APPLYING):
        _apply_in(platform, job, workspace, writer, masker, cancel)


def _test_module(
    platform: Platform,
    job: Job,
    workspace: Workspace,
    writer: RunLogWriter,
    masker: Masker,
    cancel: threading.Event,
    heartbeat: Heartbeat,
) -> None:
    """Modules are tested, not planned (state `planning` all the same: SPEC has no `testing` state);
    a passing test of a version tag publishes it (services/module_tests.py)."""
    tester = TESTERS.get(job.vendor)
    if tester is None:
        _end(platform, job, RunState.FAILED, reason=f"vendor {job.vendor} cannot test modules")
        return
    try:
        pack = module_tests.package(platform, ref=job.ref, folder=workspace.path, writer=writer)
    except ArchiveTooLargeError as exc:
        _end(platform, job, RunState.FAILED, reason=str(exc))
        return
    writer("stackyard", f"testing with {job.vendor}")
    result = tester.test(_context(platform, job, workspace, writer, masker, cancel, phase="test"))
    if heartbeat.handed_back:
        _hand_back(platform, job, writer)
        return
    module_tests.finish(
        platform, run_id=job.run_id, result=result, pack=pack, time_limit=job.time_limit, writer=writer
    )


def _apply(platform: Platform, job: Job, writer: RunLogWriter, masker: Masker, cancel: threading.Event) -> None:
    cache = WorkspaceCache(platform.settings.workspace_dir)
    try:
        workspace = cache.existing_workspace(job.run_id, job.project_root)
    except FileNotFoundError:
        writer("stackyard", "the plan's workspace is gone (the worker's disk was cleaned): plan this commit again")
        _end(platform, job, RunState.FAILED, reason="the saved plan is gone; trigger the run again")
        return
    _apply_in(platform, job, workspace, writer, masker, cancel)


def _apply_in(
    platform: Platform, job: Job, workspace: Workspace, writer: RunLogWriter, masker: Masker, cancel: threading.Event
) -> None:
    writer("stackyard", f"applying with {job.vendor}")
    result = VENDORS[job.vendor].apply(_context(platform, job, workspace, writer, masker, cancel, phase="apply"))
    workspace.cleanup()
    outcome = _outcome(result, job, "apply")
    _end(platform, job, outcome[0], reason=outcome[1])


def _outcome(result: PlanResult | ApplyResult, job: Job, phase: str) -> tuple[RunState, str | None]:
    if result.canceled:
        return RunState.CANCELED, f"{phase} canceled by a person"
    if result.timed_out:
        return RunState.FAILED, f"{phase} exceeded the time limit of {job.time_limit} s"
    if not result.exit_ok:
        return RunState.FAILED, f"{phase} exited with an error (see the log)"
    return RunState.FINISHED, None


def _record_plan(platform: Platform, job: Job, result: PlanResult, writer: RunLogWriter) -> bool:
    """Stores the summary and plan; False when the plan did not succeed (the run has ended)."""
    state, reason = _outcome(result, job, "plan")
    if state is RunState.FINISHED and result.summary is not None:
        writer("stackyard", f"plan: {result.summary.format_short()}")
    writer.flush()  # before the transaction below: SQLite has one writer at a time
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, job.run_id)
        if run.state != RunState.PLANNING:
            return False
        run.plan_text = result.plan_text or None
        _set_summary(run, result.summary)
        if state is RunState.FINISHED:
            return True
        change_state(session, platform, after, run, stack, state, reason=reason)
    return False


def _set_summary(run: Run, summary: PlanSummary | None) -> None:
    run.summary_add = summary.add if summary else None
    run.summary_change = summary.change if summary else None
    run.summary_destroy = summary.destroy if summary else None


def _context(
    platform: Platform,
    job: Job,
    workspace: Workspace,
    writer: RunLogWriter,
    masker: Masker,
    cancel: threading.Event,
    *,
    phase: str,
) -> RunContext:
    extra = [d for d in platform.settings.run_path.split(":") if d]
    # ansible-playbook and friends installed beside Stackyard's own Python are tools, not secrets.
    extra.append(str(Path(sys.executable).parent))
    env = build_run_env(
        stack_env=job.environment,
        secrets=job.secrets,
        run_vars=run_vars(
            run_id=job.run_id,
            run_type=str(job.run_type),
            stack=job.stack,
            commit_sha=job.commit_sha,
            ref=job.ref,
            plan_summary_file=workspace.plan_summary_file,
        ),
        home=workspace.home,
        extra_path=extra,
    )
    return RunContext(
        workspace=workspace,
        env=env,
        on_line=writer,
        mask=masker.mask,
        timeout=float(job.time_limit),
        cancel=cancel,
        commands={k: list(v) for k, v in job.commands.items()},
    )


# --- claiming and moving -----------------------------------------------------------------------


def _claim(platform: Platform, run_id: int) -> Job | None:
    if platform.stopping.is_set():
        return None  # a worker on its way out starts nothing; the run stays queued for the next one
    with unit_of_work(platform) as (session, after):
        run = session.get(Run, run_id)
        if run is None:
            return None
        # Serialises claims per stack on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
        stack = session.scalar(select(Stack).where(Stack.id == run.stack_id).with_for_update())
        assert stack is not None
        # The run's row too: a person cancelling it holds that lock, not the stack's (services/runs.py).
        session.refresh(run, with_for_update=True)
        if run.state == RunState.QUEUED:
            if run.id not in startable_runs(session, stack.id):
                return None
            if run.type == RunType.TRACKED and _earlier_delivery_pending(session, stack.integration_id, run):
                # The delivery dispatches this stack when it is processed; a later look guards
                # against it having committed just before this transaction could see its run.
                after.later.add(run.id)
                return None
            wanted, phase = RunState.PREPARING, "plan"
            run.started_at = utcnow()
        elif run.state == RunState.CONFIRMED:
            wanted, phase = RunState.APPLYING, "apply"
        else:
            return None
        change_state(session, platform, after, run, stack, wanted)
        run.worker_id = worker_id()
        run.heartbeat_at = utcnow()
        run.cancel_requested = False
        integration = session.get(Integration, stack.integration_id)
        assert integration is not None
        session.expunge(integration)
        return Job(
            run_id=run.id,
            run_type=RunType(run.type),
            stack_id=stack.id,
            stack=stack.name,
            vendor=stack.vendor,
            commands=dict(stack.commands or {}),
            project_root=stack.project_root,
            project_id=stack.project_id or 0,
            integration=integration,
            commit_sha=run.commit_sha,
            ref=run.ref,
            autodeploy=stack.autodeploy,
            environment=dict(stack.environment or {}),
            secrets=stack_secrets(platform, stack),
            time_limit=stack.time_limit or platform.settings.run_timeout,
            phase=phase,
        )


def _earlier_delivery_pending(session: Any, integration_id: int, run: Run) -> bool:
    """Worker threads process deliveries side by side: an earlier push may not have its run yet.

    A delivery stuck for longer than DELIVERY_WAIT (it failed every retry) no longer holds runs back.
    """
    if run.ordered_at is None:
        return False
    pending = session.scalar(
        select(Delivery.id)
        .where(
            Delivery.integration_id == integration_id,
            Delivery.state == "received",
            Delivery.received_at < run.ordered_at,
            Delivery.received_at > utcnow() - DELIVERY_WAIT,
        )
        .limit(1)
    )
    return pending is not None


def _move(platform: Platform, job: Job, current: RunState, *path: RunState) -> bool:
    """False when someone else moved the run meanwhile (a cancel, the sweeper): then we stop quietly.

    Every state of `path` is taken in order in one transaction, so nobody sees the ones in between.
    """
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, job.run_id)
        if run.state != current:
            return False
        for new in path:
            change_state(session, platform, after, run, stack, new)
        return True


def _end(platform: Platform, job: Job, state: RunState, *, reason: str | None = None) -> None:
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, job.run_id)
        if RunState(run.state) in TERMINAL:
            return
        change_state(session, platform, after, run, stack, state, reason=reason)


def _hand_back(platform: Platform, job: Job, writer: RunLogWriter) -> None:
    """Shutting down mid-plan: nothing was applied, so the run waits in the queue for the next worker."""
    writer("stackyard", "this worker is shutting down: the run goes back to the queue and will plan again")
    with unit_of_work(platform) as (session, after):
        run, stack = locked_run(session, job.run_id)
        if run.state in (RunState.PREPARING, RunState.PLANNING):
            change_state(session, platform, after, run, stack, RunState.QUEUED, reason=None)


class Heartbeat:
    """Proves the worker is alive, and carries cancel requests and shutdown into the running process."""

    def __init__(
        self, platform: Platform, run_id: int, *, cancel: threading.Event, writer: RunLogWriter, hand_back: bool
    ) -> None:
        self._platform = platform
        self._run_id = run_id
        self._cancel = cancel
        self._writer = writer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True)
        self.hand_back_allowed = hand_back
        self.handed_back = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        interval = self._platform.settings.heartbeat_interval
        while not self._stop.wait(interval):
            self.beat()

    def beat(self) -> None:
        if self._platform.stopping.is_set() and self.hand_back_allowed and not self._cancel.is_set():
            self.handed_back = True
            self._cancel.set()
        try:
            self._writer.flush()
            with self._platform.sessions.begin() as session:
                session.execute(update(Run).where(Run.id == self._run_id).values(heartbeat_at=utcnow()))
                wanted = session.scalar(select(Run.cancel_requested).where(Run.id == self._run_id))
        except Exception:
            log.exception("heartbeat failed", run=self._run_id)
            return
        if wanted:
            self._cancel.set()
