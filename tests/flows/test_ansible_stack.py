"""Issue 4's acceptance, for real with ansible-core: a merge request plans in check mode with the
right changed count, and the tracked branch applies the playbook only after `confirm`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble
from support.gitlab_setup import add_integration, add_stack, gitlab_with_project, replay, run_rows
from support.queue import drain

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: write the greeting
      ansible.builtin.copy:
        content: "{{ greeting }} from {{ lookup('env', 'OWNER') }}\\n"
        dest: "{{ lookup('env', 'TARGET_DIR') }}/greeting.txt"
        mode: "0644"
    - name: write the motd
      ansible.builtin.copy:
        content: "motd\\n"
        dest: "{{ lookup('env', 'TARGET_DIR') }}/motd.txt"
        mode: "0644"
"""


def files(greeting: str) -> dict[str, str]:
    return {
        "ansible/site.yml": PLAYBOOK,
        "ansible/inventory.ini": "localhost ansible_connection=local\n",
        "ansible/group_vars/all.yml": f"greeting: {greeting}\n",
    }


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    with gitlab_with_project(files("hello")) as found:
        yield found


def test_ansible_stack_plans_in_check_mode_and_applies_after_confirm(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str], tmp_path: Path
) -> None:
    double, base_url = gitlab
    target = tmp_path / "host"
    target.mkdir()
    (target / "motd.txt").write_text("motd\n")  # already right: check mode must count only the greeting
    add_integration(client, admin, base_url)
    add_stack(client, admin, name="hosts", project_root="ansible", vendor="ansible",
              environment={"TARGET_DIR": str(target)}, secrets={"OWNER": "ops-team-secret"})

    double.push("infra/live", branch="feature", files={"ansible/group_vars/all.yml": "greeting: hi\n"},
                deliver=False)
    double.open_merge_request("infra/live", source_branch="feature", target_branch="main", title="greet")
    replay(client, double)
    drain(platform)
    [proposed] = run_rows(platform)
    shown = client.get(f"/api/v1/runs/{proposed.id}", headers=admin).json()
    assert (shown["type"], shown["state"]) == ("proposed", "finished"), shown
    assert shown["summary"] == {"add": 0, "change": 1, "destroy": 0}
    assert not (target / "greeting.txt").exists()  # --check changed nothing
    assert "hi from ***" in shown["plan"] and "ops-team-secret" not in shown["plan"]

    start = len(double.deliveries)
    double.merge_merge_request("infra/live", 1)
    replay(client, double, start)
    drain(platform)
    tracked = run_rows(platform)[-1]
    assert (tracked.type, tracked.state) == ("tracked", "unconfirmed")
    assert (tracked.summary_add, tracked.summary_change, tracked.summary_destroy) == (0, 1, 0)
    assert not (target / "greeting.txt").exists()

    assert client.post(f"/api/v1/runs/{tracked.id}/confirm", headers=admin).status_code == 200
    drain(platform)
    assert run_rows(platform)[-1].state == "finished"
    assert (target / "greeting.txt").read_text() == "hi from ops-team-secret\n"
    logs = client.get(f"/api/v1/runs/{tracked.id}/logs", headers=admin).text
    assert "PLAY RECAP" in logs and "ops-team-secret" not in logs
