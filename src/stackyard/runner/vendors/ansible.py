"""Ansible: a check-mode run with diffs as the plan, the same playbook for real as the apply."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stackyard.core.plans import summary_from_ansible_recap
from stackyard.runner.vendors.base import ApplyResult, LineCollector, PlanResult, RunContext, Step

__all__ = ["Ansible", "find_ansible_playbook"]

DEFAULT_PLAYBOOK = "site.yml"
DEFAULT_INVENTORY = "inventory.ini"


def find_ansible_playbook(run_path: str) -> str | None:
    """Prefer the one installed beside this Python (Stackyard's own virtualenv), then the run's PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.is_file():
        return str(beside)
    return shutil.which("ansible-playbook", path=run_path)


@dataclass(frozen=True)
class Ansible:
    name: str = "ansible"

    def plan(self, ctx: RunContext) -> PlanResult:
        step = Step(ctx, env=self._env(ctx))
        argv = self._argv(ctx, step)
        if argv is None:
            return step.plan_result(ok=False, summary=None, plan_text="")
        collected = LineCollector(ctx.on_line)
        outcome = step.run([*argv, "--check", "--diff"], on_line=collected)
        text = collected.text()
        try:
            summary = summary_from_ansible_recap(text)
        except ValueError as error:
            step.say(f"plan summary unknown: {error}")
            summary = None
        return step.plan_result(ok=outcome.ok, summary=summary if outcome.ok else None, plan_text=text)

    def apply(self, ctx: RunContext) -> ApplyResult:
        step = Step(ctx, env=self._env(ctx))
        argv = self._argv(ctx, step)
        if argv is None:
            return step.apply_result(ok=False)
        return step.apply_result(ok=step.run([*argv, "--diff"]).ok)

    def _argv(self, ctx: RunContext, step: Step) -> list[str] | None:
        binary = ctx.binary or find_ansible_playbook(ctx.env.get("PATH", ""))
        if binary is None:
            step.say("ansible-playbook not found beside Stackyard's Python or on the run's PATH")
            return None
        try:
            playbook = _single(ctx.commands, "playbook") or DEFAULT_PLAYBOOK
            inventory = _single(ctx.commands, "inventory")
        except ValueError as error:
            step.say(str(error))
            return None
        if inventory is None and (ctx.workspace.path / DEFAULT_INVENTORY).is_file():
            inventory = DEFAULT_INVENTORY
        if inventory is not None:
            return [binary, "-i", inventory, playbook]
        # No inventory at all: the playbook configures this machine, with the interpreter that
        # runs Ansible itself so no discovery (and its warning) is needed.
        return [
            binary,
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter={{ ansible_playbook_python }}",
            playbook,
        ]

    @staticmethod
    def _env(ctx: RunContext) -> dict[str, str]:
        tmp = ctx.workspace.tmp
        env = {key: value for key, value in ctx.env.items() if key != "ANSIBLE_CONFIG"}
        binary = ctx.binary or find_ansible_playbook(env.get("PATH", ""))
        if binary is not None:
            # ansible-playbook starts helpers (ansible-galaxy, python) by name from its own folder.
            folder = str(Path(binary).parent)
            if folder not in env.get("PATH", "").split(":"):
                env["PATH"] = f"{folder}:{env['PATH']}" if env.get("PATH") else folder
        env.update(
            {
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
                "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"),
                "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
            }
        )
        return env


def _single(commands: Mapping[str, object], key: str) -> str | None:
    values = commands.get(key)
    if not values:
        return None
    if isinstance(values, str):
        return values
    if isinstance(values, (list, tuple)) and len(values) == 1 and isinstance(values[0], str):
        return values[0]
    raise ValueError(f"commands[{key!r}] must name exactly one file, got {values!r}")
