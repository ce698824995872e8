"""OpenTofu/Terraform vendor: a saved plan, its summary and text, and an apply of exactly that plan.

The real run needs terraform on PATH (it cannot be installed by the test suite); the fake-binary
tests below always run and pin the command lines and the handling of `show -json`.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from stackyard.core.plans import PlanSummary
from stackyard.runner.vendors import VENDORS
from stackyard.runner.vendors.opentofu import PLAN_FILE
from support.run_setup import RunSetupFactory

DATA = Path(__file__).parent / "data"

CONFIG = """\
variable "token" {
  type = string
}
resource "terraform_data" "web" {
  input = "web with ${var.token}"
}
"""


@pytest.mark.skipif(
    shutil.which("terraform", path="/usr/local/bin:/usr/bin:/bin") is None, reason="no terraform"
)
def test_real_terraform_plan_then_apply_the_saved_plan(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"infra/main.tf": CONFIG}, secrets={"TF_VAR_token": "tok-abc123"}, project_root="infra")
    vendor = VENDORS["terraform"]

    plan = vendor.plan(setup.context())
    assert plan.exit_ok, setup.log.text
    assert plan.summary == PlanSummary(add=1, change=0, destroy=0)
    assert "terraform_data.web will be created" in plan.plan_text
    assert "web with ***" in plan.plan_text
    assert "tok-abc123" not in plan.plan_text and "tok-abc123" not in setup.log.text
    assert '"resource_changes"' not in setup.log.text  # the JSON was captured, not logged
    assert (setup.workspace.path / PLAN_FILE).is_file()

    # The configuration changes after the plan: the apply must still do only what was planned.
    (setup.workspace.path / "main.tf").write_text(CONFIG + 'resource "terraform_data" "extra" {}\n')
    applied = vendor.apply(setup.context())
    assert applied.exit_ok, setup.log.text
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in setup.log.text


def fake_tool(folder: Path, *, show_json: str) -> Path:
    """A stand-in for tofu that records its arguments and answers `show -json` from a file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.json").write_text(show_json)
    script = folder / "tofu"
    script.write_text(
        f"""#!/bin/sh
echo "$*" >> {folder}/calls
echo "TF_IN_AUTOMATION=$TF_IN_AUTOMATION TF_INPUT=$TF_INPUT" >> {folder}/calls
case "$1 $2" in
  "plan -input=false") touch {PLAN_FILE}; echo "Plan: 9 to add, 9 to change, 9 to destroy." ;;
  "show -json") cat {folder}/plan.json ;;
  "show -no-color") echo "  # terraform_data.web will be created" ;;
esac
"""
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def test_plan_and_apply_command_lines(run_setup: RunSetupFactory, tmp_path: Path) -> None:
    tools = fake_tool(tmp_path / "tools", show_json=(DATA / "terraform-mixed.json").read_text())
    setup = run_setup({"main.tf": ""}, extra_path=[str(tools)])
    vendor = VENDORS["opentofu"]

    plan = vendor.plan(setup.context())
    assert plan.exit_ok, setup.log.text
    assert plan.summary == PlanSummary(add=4, change=1, destroy=3)  # from the JSON, not the text
    assert plan.plan_text == "  # terraform_data.web will be created\n"
    assert "resource_changes" not in setup.log.text
    assert vendor.apply(setup.context()).exit_ok

    calls = (tools / "calls").read_text().splitlines()
    assert calls[0::2] == [
        "init -input=false -no-color",
        f"plan -input=false -no-color -out={PLAN_FILE}",
        f"show -no-color {PLAN_FILE}",
        f"show -json {PLAN_FILE}",
        f"apply -input=false -no-color {PLAN_FILE}",
    ]
    assert set(calls[1::2]) == {"TF_IN_AUTOMATION=1 TF_INPUT=0"}


def test_unreadable_plan_json_falls_back_to_the_plan_text(run_setup: RunSetupFactory, tmp_path: Path) -> None:
    tools = fake_tool(tmp_path / "tools", show_json="{oops")
    setup = run_setup({"main.tf": ""}, extra_path=[str(tools)])
    plan = VENDORS["opentofu"].plan(setup.context())
    assert plan.summary is None  # the human text of the fake has no totals line either
    assert "could not read the plan JSON" in setup.log.text


def test_apply_without_a_saved_plan_refuses(run_setup: RunSetupFactory, tmp_path: Path) -> None:
    tools = fake_tool(tmp_path / "tools", show_json="{}")
    setup = run_setup({"main.tf": ""}, extra_path=[str(tools)])
    assert not VENDORS["opentofu"].apply(setup.context()).exit_ok
    assert "must be planned again" in setup.log.text
    assert not (tools / "calls").exists()


def test_missing_binary_is_a_failed_plan(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"main.tf": ""})
    plan = VENDORS["opentofu"].plan(setup.context(binary="/nonexistent/tofu"))
    assert not plan.exit_ok and plan.summary is None
