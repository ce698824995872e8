"""Ansible for real, against this machine: check mode changes nothing, apply does, then it is idle."""

from __future__ import annotations

from pathlib import Path

from stackyard.core.plans import PlanSummary
from stackyard.runner.vendors import VENDORS
from support.run_setup import RunSetupFactory

ANSIBLE = VENDORS["ansible"]

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: write hello
      ansible.builtin.copy:
        content: "hello from {{ lookup('env', 'GREETING_NAME') }}\\n"
        dest: "{{ lookup('env', 'TARGET_DIR') }}/hello.txt"
        mode: "0644"
"""


def test_plan_apply_plan(run_setup: RunSetupFactory, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    setup = run_setup(
        {"ansible/site.yml": PLAYBOOK},
        stack_env={"TARGET_DIR": str(target)},
        secrets={"GREETING_NAME": "s3cr3t-name"},
        project_root="ansible",
    )

    plan = ANSIBLE.plan(setup.context())
    assert plan.exit_ok, setup.log.text
    assert plan.summary == PlanSummary(add=0, change=1, destroy=0)
    assert not (target / "hello.txt").exists()
    assert "PLAY RECAP" in plan.plan_text
    assert "hello from ***" in plan.plan_text  # the --diff shows the content, masked
    assert "s3cr3t-name" not in plan.plan_text and "s3cr3t-name" not in setup.log.text

    applied = ANSIBLE.apply(setup.context())
    assert applied.exit_ok, setup.log.text
    assert (target / "hello.txt").read_text() == "hello from s3cr3t-name\n"

    again = ANSIBLE.plan(setup.context())
    assert again.exit_ok
    assert again.summary == PlanSummary(add=0, change=0, destroy=0)
    # Ansible kept its files in the workspace, not in the worker's home.
    assert (setup.workspace.home / ".ansible").exists() or (setup.workspace.tmp / "ansible-local").exists()


def test_inventory_and_playbook_from_the_commands_mapping(run_setup: RunSetupFactory, tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    setup = run_setup(
        {
            "play.yml": PLAYBOOK,
            "hosts.ini": "[all]\nlocalhost ansible_connection=local ansible_python_interpreter=auto_silent\n",
        },
        stack_env={"TARGET_DIR": str(target), "GREETING_NAME": "x"},
    )
    plan = ANSIBLE.plan(setup.context(commands={"playbook": ["play.yml"], "inventory": ["hosts.ini"]}))
    assert plan.exit_ok, setup.log.text
    assert plan.summary == PlanSummary(add=0, change=1, destroy=0)


def test_a_missing_playbook_fails_without_a_summary(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"README.md": "no playbook here"})
    plan = ANSIBLE.plan(setup.context())
    assert not plan.exit_ok
    assert plan.summary is None
