"""What every vendor offers (plan, apply) and what it gets to work with."""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from stackyard.core.plans import PlanSummary
from stackyard.runner.process import (
    STACKYARD,
    CapturedOutcome,
    LineCallback,
    ProcessOutcome,
    capture_command,
    run_command,
)
from stackyard.runner.workspace import Workspace

__all__ = [
    "ApplyResult", "LineCollector", "ModuleTestResult", "ModuleTester", "PlanResult", "RunContext", "Step", "Vendor",
]

# The plan text goes into merge request comments; more than this is cut (GitLab's note limit is
# about 1,000,000 characters, and the full log stays available in Stackyard).
_PLAN_TEXT_LIMIT = 900_000


@dataclass(frozen=True)
class PlanResult:
    exit_ok: bool
    summary: PlanSummary | None
    plan_text: str
    timed_out: bool = False
    canceled: bool = False


@dataclass(frozen=True)
class ApplyResult:
    exit_ok: bool
    timed_out: bool = False
    canceled: bool = False


@dataclass(frozen=True)
class ModuleTestResult:
    """A module's test: passed or not, and whether a person or the time limit stopped it."""

    exit_ok: bool
    timed_out: bool = False
    canceled: bool = False


@dataclass(frozen=True)
class RunContext:
    """Everything a vendor may use; it never looks at os.environ or Stackyard's settings.

    on_line must already mask secrets (the caller wraps it); `mask` is for text a vendor captures
    rather than streams (the human plan), which must be masked just the same. `timeout` is for the
    whole phase (all of a plan's commands together), in seconds.
    """

    workspace: Workspace
    env: Mapping[str, str]
    on_line: LineCallback
    mask: Callable[[str], str]
    timeout: float | None = None
    cancel: threading.Event | None = None
    commands: Mapping[str, Sequence[str]] = field(default_factory=dict)
    binary: str | None = None


class Vendor(Protocol):
    @property
    def name(self) -> str: ...

    def plan(self, ctx: RunContext) -> PlanResult: ...

    def apply(self, ctx: RunContext) -> ApplyResult: ...


class ModuleTester(Protocol):
    """Vendors that can test a module (the opentofu/terraform family and plain commands)."""

    @property
    def name(self) -> str: ...

    def test(self, ctx: RunContext) -> ModuleTestResult: ...


class Step:
    """Runs a phase's commands one after another against the phase's single time budget."""

    def __init__(self, ctx: RunContext, *, env: Mapping[str, str]) -> None:
        self._ctx = ctx
        self._env = dict(env)
        self._deadline = None if ctx.timeout is None else time.monotonic() + ctx.timeout
        self.timed_out = False
        self.canceled = False

    def say(self, text: str) -> None:
        self._ctx.on_line(STACKYARD, self._ctx.mask(text))

    def run(self, argv: Sequence[str], *, on_line: LineCallback | None = None) -> ProcessOutcome:
        self.say(f"$ {shlex.join(argv)}")
        outcome = run_command(
            argv,
            cwd=self._ctx.workspace.path,
            env=self._env,
            on_line=on_line or self._ctx.on_line,
            timeout=self._remaining(),
            cancel=self._ctx.cancel,
        )
        self._note(outcome)
        return outcome

    def capture(self, argv: Sequence[str]) -> CapturedOutcome:
        self.say(f"$ {shlex.join(argv)}")
        captured = capture_command(
            argv,
            cwd=self._ctx.workspace.path,
            env=self._env,
            on_line=self._ctx.on_line,
            timeout=self._remaining(),
            cancel=self._ctx.cancel,
        )
        self._note(captured.outcome)
        return captured

    def plan_result(self, *, ok: bool, summary: PlanSummary | None, plan_text: str) -> PlanResult:
        text = self._ctx.mask(plan_text)
        if len(text) > _PLAN_TEXT_LIMIT:
            text = text[:_PLAN_TEXT_LIMIT] + "\n… (cut; the full plan is in the run's log)\n"
        return PlanResult(
            exit_ok=ok and not self.stopped,
            summary=summary,
            plan_text=text,
            timed_out=self.timed_out,
            canceled=self.canceled,
        )

    def test_result(self, *, ok: bool) -> ModuleTestResult:
        return ModuleTestResult(exit_ok=ok and not self.stopped, timed_out=self.timed_out, canceled=self.canceled)

    def apply_result(self, *, ok: bool) -> ApplyResult:
        return ApplyResult(exit_ok=ok and not self.stopped, timed_out=self.timed_out, canceled=self.canceled)

    @property
    def stopped(self) -> bool:
        return self.timed_out or self.canceled

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def _note(self, outcome: ProcessOutcome) -> None:
        self.timed_out = self.timed_out or outcome.timed_out
        self.canceled = self.canceled or outcome.canceled
        if not outcome.ok and not self.stopped:
            self.say(f"exited with code {outcome.exit_code}")


class LineCollector:
    """Passes lines on and keeps them, for vendors whose plan text is their streamed output."""

    def __init__(self, on_line: LineCallback) -> None:
        self._on_line = on_line
        self._lines: list[str] = []
        self._size = 0

    def __call__(self, stream: str, line: str) -> None:
        self._on_line(stream, line)
        if self._size <= _PLAN_TEXT_LIMIT:
            self._lines.append(line)
            self._size += len(line) + 1

    def text(self) -> str:
        return "\n".join(self._lines) + ("\n" if self._lines else "")
