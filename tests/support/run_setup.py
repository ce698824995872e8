"""Shared set-up for runner tests: a workspace from a real source tree, and a log that masks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackyard.runner.environment import build_run_env, run_vars
from stackyard.runner.masking import Masker
from stackyard.runner.vendors.base import RunContext
from stackyard.runner.workspace import Workspace, WorkspaceCache


@dataclass
class Log:
    """What a run's log would store: masked lines with their stream."""

    masker: Masker
    lines: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, stream: str, line: str) -> None:
        self.lines.append((stream, self.masker.mask(line)))

    @property
    def text(self) -> str:
        return "\n".join(line for _stream, line in self.lines)


@dataclass
class RunSetup:
    workspace: Workspace
    env: dict[str, str]
    log: Log

    def context(
        self,
        *,
        commands: Mapping[str, Sequence[str]] | None = None,
        timeout: float | None = 120,
        cancel: threading.Event | None = None,
        binary: str | None = None,
    ) -> RunContext:
        return RunContext(
            workspace=self.workspace,
            env=self.env,
            on_line=self.log,
            mask=self.log.masker.mask,
            timeout=timeout,
            cancel=cancel,
            commands=commands or {},
            binary=binary,
        )


RunSetupFactory = Callable[..., RunSetup]


@pytest.fixture
def run_setup(tmp_path: Path) -> RunSetupFactory:
    """Files become the repository; stack_env and secrets become the run's environment."""

    def make(
        files: Mapping[str, str],
        *,
        stack_env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        run_id: int = 1,
        project_root: str = "",
        extra_path: Sequence[str] = (),
    ) -> RunSetup:
        source = tmp_path / "source"
        for name, content in files.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_text(content)
        source.mkdir(exist_ok=True)
        workspace = WorkspaceCache(tmp_path / "cache").new_workspace(run_id, source, project_root)
        env = build_run_env(
            stack_env=stack_env or {},
            secrets=secrets or {},
            run_vars=run_vars(
                run_id=run_id,
                run_type="tracked",
                stack="demo",
                commit_sha="0" * 40,
                ref="main",
                plan_summary_file=workspace.plan_summary_file,
            ),
            home=workspace.home,
            extra_path=extra_path,
        )
        return RunSetup(workspace=workspace, env=env, log=Log(Masker((secrets or {}).values())))

    return make
