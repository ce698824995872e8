"""What a run's process sees: only its stack's variables, secrets masked, nothing of Stackyard's."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackyard.runner.environment import build_run_env, run_vars
from stackyard.runner.vendors import VENDORS
from support.run_setup import RunSetupFactory

SECRETS = {"DB_PASSWORD": "hunter2-very-secret", "API_KEY": "k9", "CERT": "line-one\nline-two"}


def test_a_run_printing_its_environment_shows_no_stackyard_settings_and_masks_secrets(
    run_setup: RunSetupFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaks = {
        "STACKYARD_SECRET_KEY": "server-secret-key-value",
        "STACKYARD_DATABASE_URL": "postgresql+psycopg://u:dbpass@db/stackyard",
        "GITLAB_TOKEN": "glpat-leakme",
        "AWS_SECRET_ACCESS_KEY": "worker-aws-key",
    }
    for name, value in leaks.items():
        monkeypatch.setenv(name, value)
    setup = run_setup({}, stack_env={"REGION": "eu-west-1"}, secrets=SECRETS)

    result = VENDORS["commands"].plan(setup.context(commands={"plan": ["env", "printf '%s\\n' \"$CERT\""]}))

    assert result.exit_ok
    printed = dict(
        line.split("=", 1) for stream, line in setup.log.lines if stream == "output" and "=" in line
    )
    for name, value in leaks.items():
        assert name not in printed
        assert value not in setup.log.text
        assert value not in result.plan_text
    assert printed["REGION"] == "eu-west-1"
    assert printed["DB_PASSWORD"] == "***"
    assert printed["API_KEY"] == "***"
    assert printed["CERT"] == "***"  # the first line of a multi-line value, masked on its own
    assert ("output", "***") in setup.log.lines  # its second line, printed by printf
    for value in SECRETS.values():
        assert value not in setup.log.text
        assert value not in result.plan_text
    assert set(printed) == {
        "REGION", *SECRETS, "PATH", "HOME", "LANG", "PWD",  # PWD is the shell's own
        "STACKYARD_RUN_ID", "STACKYARD_RUN_TYPE", "STACKYARD_STACK",
        "STACKYARD_COMMIT_SHA", "STACKYARD_REF", "STACKYARD_PLAN_SUMMARY",
    }  # fmt: skip
    assert printed["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert Path(printed["HOME"]).is_relative_to(setup.workspace.root)


def base_run_vars(tmp_path: Path) -> dict[str, str]:
    return run_vars(
        run_id=7,
        run_type="proposed",
        stack="net",
        commit_sha="a" * 40,
        ref="feature",
        plan_summary_file=tmp_path / "s.json",
    )


def test_build_run_env_is_exactly_the_allow_list(tmp_path: Path) -> None:
    env = build_run_env(
        stack_env={"A": "1"},
        secrets={"B": "2"},
        run_vars=base_run_vars(tmp_path),
        home=tmp_path / "home",
        extra_path=["/opt/tools/bin"],
    )
    assert env == {
        "A": "1",
        "B": "2",
        "LANG": "C.UTF-8",
        "PATH": "/opt/tools/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "STACKYARD_RUN_ID": "7",
        "STACKYARD_RUN_TYPE": "proposed",
        "STACKYARD_STACK": "net",
        "STACKYARD_COMMIT_SHA": "a" * 40,
        "STACKYARD_REF": "feature",
        "STACKYARD_PLAN_SUMMARY": str(tmp_path / "s.json"),
    }


@pytest.mark.parametrize(
    ("stack_env", "secrets", "message"),
    [
        ({"1ABC": "x"}, {}, "not a shell identifier"),
        ({"A-B": "x"}, {}, "not a shell identifier"),
        ({"": "x"}, {}, "not a shell identifier"),
        ({}, {"A B": "x"}, "not a shell identifier"),
        ({"PATH": "/evil"}, {}, "cannot be overridden"),
        ({}, {"HOME": "/root"}, "cannot be overridden"),
        ({"STACKYARD_RUN_ID": "1"}, {}, "cannot be overridden"),
        ({"STACKYARD_SECRET_KEY": "x"}, {}, "cannot be overridden"),
        ({"X": "1"}, {"X": "2"}, "both"),
        ({"X": "a\0b"}, {}, "NUL"),
    ],
)
def test_build_run_env_refuses(
    tmp_path: Path, stack_env: dict[str, str], secrets: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_run_env(stack_env=stack_env, secrets=secrets, run_vars=base_run_vars(tmp_path), home=tmp_path)


def test_build_run_env_requires_every_run_var(tmp_path: Path) -> None:
    partial = base_run_vars(tmp_path)
    del partial["STACKYARD_REF"]
    with pytest.raises(ValueError, match="missing"):
        build_run_env(stack_env={}, secrets={}, run_vars=partial, home=tmp_path)
    with pytest.raises(ValueError, match="unknown"):
        build_run_env(
            stack_env={}, secrets={}, run_vars={**base_run_vars(tmp_path), "OTHER": "x"}, home=tmp_path
        )
