"""The double's console acts as a GitLab user: each command changes the double as GitLab would change."""

from __future__ import annotations

import io

from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.devtools.gitlab_double.console import DoubleConsole


def run_console(double: GitLabDouble, script: str) -> str:
    out = io.StringIO()
    DoubleConsole(double, "infra/live", stdin=io.StringIO(script), stdout=out).cmdloop()
    return out.getvalue()


def test_a_scripted_session_pushes_tags_and_opens_merge_requests() -> None:
    double = GitLabDouble()
    double.add_user("alice")
    project = double.add_project("infra/live", files={"main.tf": "terraform {}\n"})
    out = run_console(double, "\n".join([
        "push feature app/main.sh='echo v2\\n' main.tf=",
        "mr feature main Bump to v2",
        "note 1 /stackyard plan",
        "tag v1.0.0 main",
        "merge 1",
        "merge 7",
        "frobnicate",
    ]) + "\n")
    feature = double.commits[project.branches["feature"]]
    assert feature.tree == {"app/main.sh": "echo v2\n"}  # main.tf= deleted the file
    assert [(mr["iid"], mr["title"], mr["state"]) for mr in double.merge_requests("infra/live")] == [
        (1, "Bump to v2", "merged")
    ]
    assert [n["body"] for n in double.notes("infra/live", 1) if not n["system"]] == ["/stackyard plan"]
    assert project.tags["v1.0.0"].commit_sha != project.branches["main"]  # tagged before the merge
    lines = out.splitlines()
    assert lines[0].startswith("pushed ") and lines[0].endswith(" to feature")
    assert "opened merge request !1" in lines and "commented on !1" in lines
    assert any(line.startswith("merged !1 as ") for line in lines)
    assert any(line.startswith("error: ") for line in lines)  # merge 7: no such merge request
    assert lines[-1] == "unknown command 'frobnicate': type help"
