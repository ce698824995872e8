"""OpenTofu and Terraform: init, a saved plan, and an apply of exactly that plan."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from stackyard.core.plans import PlanSummary, summary_from_plan_text, summary_from_tofu_show_json
from stackyard.runner.vendors.base import ApplyResult, ModuleTestResult, PlanResult, RunContext, Step

__all__ = ["PLAN_FILE", "OpenTofu"]

PLAN_FILE = "stackyard.tfplan"

# https://opentofu.org/docs/cli/config/environment-variables/ : TF_IN_AUTOMATION trims advice
# meant for people at a terminal; TF_INPUT=0 makes a missing variable an error, not a prompt.
_AUTOMATION_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
# `tofu test` / `terraform test` read test files from the root and from tests/ (the default
# -test-directory); OpenTofu also reads its own .tofutest.hcl files.
_TEST_FILE_PATTERNS = ("*.tftest.hcl", "*.tofutest.hcl", "tests/*.tftest.hcl", "tests/*.tofutest.hcl")


@dataclass(frozen=True)
class OpenTofu:
    """One class for both tools: they share the CLI and the plan JSON format."""

    name: str
    binary_name: str

    def plan(self, ctx: RunContext) -> PlanResult:
        step = Step(ctx, env={**ctx.env, **_AUTOMATION_ENV})
        binary = self._binary(ctx)
        if binary is None:
            step.say(f"{self.binary_name} not found on the run's PATH {ctx.env.get('PATH', '')}")
            return step.plan_result(ok=False, summary=None, plan_text="")
        plan_file = ctx.workspace.path / PLAN_FILE
        plan_file.unlink(missing_ok=True)
        for argv in (
            [binary, "init", "-input=false", "-no-color"],
            [binary, "plan", "-input=false", "-no-color", f"-out={PLAN_FILE}"],
        ):
            if not step.run(argv).ok:
                return step.plan_result(ok=False, summary=None, plan_text="")

        # The human plan is captured rather than streamed: `plan` already printed it to the log.
        shown = step.capture([binary, "show", "-no-color", PLAN_FILE])
        plan_text = shown.stdout if shown.outcome.ok else ""
        as_json = step.capture([binary, "show", "-json", PLAN_FILE])
        json_text = as_json.stdout if as_json.outcome.ok else None
        summary = self._summary(step, json_text=json_text, plan_text=plan_text)
        ok = shown.outcome.ok and as_json.outcome.ok
        return step.plan_result(ok=ok, summary=summary, plan_text=plan_text)

    def apply(self, ctx: RunContext) -> ApplyResult:
        step = Step(ctx, env={**ctx.env, **_AUTOMATION_ENV})
        binary = self._binary(ctx)
        if binary is None:
            step.say(f"{self.binary_name} not found on the run's PATH {ctx.env.get('PATH', '')}")
            return step.apply_result(ok=False)
        if not (ctx.workspace.path / PLAN_FILE).is_file():
            step.say(f"no saved plan {PLAN_FILE} in the workspace: the run must be planned again")
            return step.apply_result(ok=False)
        outcome = step.run([binary, "apply", "-input=false", "-no-color", PLAN_FILE])
        return step.apply_result(ok=outcome.ok)

    def test(self, ctx: RunContext) -> ModuleTestResult:
        """A module has no backend or state of its own: init without one, validate, and run its test files."""
        step = Step(ctx, env={**ctx.env, **_AUTOMATION_ENV})
        binary = self._binary(ctx)
        if binary is None:
            step.say(f"{self.binary_name} not found on the run's PATH {ctx.env.get('PATH', '')}")
            return step.test_result(ok=False)
        commands = [
            [binary, "init", "-backend=false", "-input=false", "-no-color"],
            [binary, "validate", "-no-color"],
        ]
        if any(any(ctx.workspace.path.glob(pattern)) for pattern in _TEST_FILE_PATTERNS):
            commands.append([binary, "test", "-no-color"])
        else:
            step.say("no *.tftest.hcl files: init and validate only")
        for argv in commands:
            if not step.run(argv).ok:
                return step.test_result(ok=False)
        return step.test_result(ok=True)

    def _binary(self, ctx: RunContext) -> str | None:
        if ctx.binary:
            return ctx.binary
        return shutil.which(self.binary_name, path=ctx.env.get("PATH", ""))

    @staticmethod
    def _summary(step: Step, *, json_text: str | None, plan_text: str) -> PlanSummary | None:
        if json_text is not None:
            try:
                return summary_from_tofu_show_json(json.loads(json_text))
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                step.say(f"could not read the plan JSON ({error}); using the plan text")
        try:
            return summary_from_plan_text(plan_text)
        except ValueError as error:
            step.say(f"plan summary unknown: {error}")
            return None
