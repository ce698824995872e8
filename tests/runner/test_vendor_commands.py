"""The `commands` vendor: shell commands in order, and a summary only from $STACKYARD_PLAN_SUMMARY."""

from __future__ import annotations

import threading

from stackyard.core.plans import PlanSummary
from stackyard.runner.vendors import VENDORS
from support.run_setup import RunSetupFactory

COMMANDS = VENDORS["commands"]


def test_plan_runs_in_order_and_reads_the_summary_file(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"infra/main.sh": "echo from-repo\n"}, project_root="infra")
    result = COMMANDS.plan(
        setup.context(
            commands={
                "plan": [
                    "echo first",
                    "sh main.sh",
                    'echo \'{"add": 2, "change": 0, "destroy": 1}\' > "$STACKYARD_PLAN_SUMMARY"',
                ]
            }
        )
    )
    assert result.exit_ok
    assert result.summary == PlanSummary(add=2, change=0, destroy=1)
    output = [line for stream, line in setup.log.lines if stream == "output"]
    assert output == ["first", "from-repo"]
    assert result.plan_text.splitlines() == output


def test_plan_stops_at_the_first_failure(run_setup: RunSetupFactory) -> None:
    setup = run_setup({})
    result = COMMANDS.plan(setup.context(commands={"plan": ["echo one", "exit 3", "echo never"]}))
    assert not result.exit_ok
    assert result.summary is None
    assert "never" not in setup.log.text
    assert "exited with code 3" in setup.log.text


def test_invalid_summary_file_gives_no_summary_and_says_why(run_setup: RunSetupFactory) -> None:
    setup = run_setup({})
    result = COMMANDS.plan(setup.context(commands={"plan": ['echo "{not json" > "$STACKYARD_PLAN_SUMMARY"']}))
    assert result.exit_ok
    assert result.summary is None
    assert any(stream == "stackyard" and "STACKYARD_PLAN_SUMMARY" in line for stream, line in setup.log.lines)

    result = COMMANDS.plan(
        setup.context(
            commands={"plan": ['echo \'{"add": -1, "change": 0, "destroy": 0}\' > "$STACKYARD_PLAN_SUMMARY"']}
        )
    )
    assert result.summary is None


def test_no_summary_file_means_unknown(run_setup: RunSetupFactory) -> None:
    setup = run_setup({})
    setup.workspace.plan_summary_file.write_text('{"add": 9, "change": 9, "destroy": 9}')  # a stale one
    result = COMMANDS.plan(setup.context(commands={"plan": ["true"]}))
    assert result.exit_ok
    assert result.summary is None


def test_apply_runs_apply_commands_in_the_plans_workspace(run_setup: RunSetupFactory) -> None:
    setup = run_setup({})
    COMMANDS.plan(setup.context(commands={"plan": ["echo planned > marker"]}))
    result = COMMANDS.apply(setup.context(commands={"apply": ["cat marker", "echo applied"]}))
    assert result.exit_ok
    assert [line for stream, line in setup.log.lines if stream == "output"] == ["planned", "applied"]


def test_phase_timeout_covers_all_commands(run_setup: RunSetupFactory) -> None:
    setup = run_setup({})
    result = COMMANDS.plan(setup.context(commands={"plan": ["sleep 30", "echo never"]}, timeout=0.5))
    assert not result.exit_ok
    assert result.timed_out
    assert "never" not in setup.log.text


def test_cancel_before_start_stops_at_once(run_setup: RunSetupFactory) -> None:
    setup = run_setup({})
    cancel = threading.Event()
    cancel.set()
    result = COMMANDS.apply(setup.context(commands={"apply": ["sleep 30"]}, cancel=cancel))
    assert not result.exit_ok
    assert result.canceled
