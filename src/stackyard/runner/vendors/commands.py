"""Plain shell commands, for tools Stackyard has no vendor for."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stackyard.core.plans import PlanSummary
from stackyard.runner.process import LineCallback, shell_argv
from stackyard.runner.vendors.base import ApplyResult, LineCollector, ModuleTestResult, PlanResult, RunContext, Step

__all__ = ["Commands"]


@dataclass(frozen=True)
class Commands:
    name: str = "commands"

    def plan(self, ctx: RunContext) -> PlanResult:
        """The summary comes only from $STACKYARD_PLAN_SUMMARY: output is never guessed at."""
        summary_file = Path(ctx.env.get("STACKYARD_PLAN_SUMMARY") or ctx.workspace.plan_summary_file)
        summary_file.unlink(missing_ok=True)
        step = Step(ctx, env=ctx.env)
        collected = LineCollector(ctx.on_line)
        ok = _run_all(step, ctx.commands.get("plan", ()), collected)
        summary = _read_summary(step, summary_file) if ok else None
        return step.plan_result(ok=ok, summary=summary, plan_text=collected.text())

    def apply(self, ctx: RunContext) -> ApplyResult:
        step = Step(ctx, env=ctx.env)
        return step.apply_result(ok=_run_all(step, ctx.commands.get("apply", ()), ctx.on_line))

    def test(self, ctx: RunContext) -> ModuleTestResult:
        """A module's own test commands (`commands.test`), in order, stopping at the first failure."""
        step = Step(ctx, env=ctx.env)
        return step.test_result(ok=_run_all(step, ctx.commands.get("test", ()), ctx.on_line))


def _run_all(step: Step, commands: Sequence[str], on_line: LineCallback) -> bool:
    """In order, stopping at the first failure, as a CI job's script does."""
    for command in [commands] if isinstance(commands, str) else commands:
        if not step.run(shell_argv(command), on_line=on_line).ok:
            return False
    return True


def _read_summary(step: Step, path: Path) -> PlanSummary | None:
    if not path.is_file():
        return None
    try:
        return PlanSummary.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as error:
        step.say(f"ignoring $STACKYARD_PLAN_SUMMARY: {error}")
        return None
