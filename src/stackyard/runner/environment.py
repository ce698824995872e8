"""The allow-listed environment a run's process sees, built from nothing inherited."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["BASE_PATH", "RUN_VAR_NAMES", "build_run_env", "run_vars"]

BASE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")

RUN_VAR_NAMES = frozenset(
    {
        "STACKYARD_RUN_ID",
        "STACKYARD_RUN_TYPE",
        "STACKYARD_STACK",
        "STACKYARD_COMMIT_SHA",
        "STACKYARD_REF",
        "STACKYARD_PLAN_SUMMARY",
    }
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Set by Stackyard for every run: a stack that could replace them could point a run at another
# workspace or a PATH of its choosing. The whole STACKYARD_ prefix is kept for future run vars.
_RESERVED = frozenset({"PATH", "HOME"})
_RESERVED_PREFIX = "STACKYARD_"


def run_vars(
    *, run_id: int, run_type: str, stack: str, commit_sha: str, ref: str, plan_summary_file: Path
) -> dict[str, str]:
    return {
        "STACKYARD_RUN_ID": str(run_id),
        "STACKYARD_RUN_TYPE": run_type,
        "STACKYARD_STACK": stack,
        "STACKYARD_COMMIT_SHA": commit_sha,
        "STACKYARD_REF": ref,
        "STACKYARD_PLAN_SUMMARY": str(plan_summary_file),
    }


def build_run_env(
    *,
    stack_env: Mapping[str, str],
    secrets: Mapping[str, str],
    run_vars: Mapping[str, str],
    home: Path,
    extra_path: Sequence[str] = (),
) -> dict[str, str]:
    """Start from an empty mapping so Stackyard's own settings, keys and tokens cannot leak in.

    Stack variables and secrets share one namespace: a name in both is refused rather than
    letting one silently win. LANG is only a default: a stack may pick its own locale.
    """
    _check_run_vars(run_vars)
    _check_user_vars("environment variable", stack_env)
    _check_user_vars("secret variable", secrets)
    both = sorted(set(stack_env) & set(secrets))
    if both:
        raise ValueError(f"defined both as environment and secret variable: {', '.join(both)}")
    for directory in extra_path:
        if not directory or ":" in directory or not Path(directory).is_absolute():
            raise ValueError(f"PATH entries must be absolute paths without ':', got {directory!r}")

    path = list(dict.fromkeys([*extra_path, *BASE_PATH]))
    env = {"LANG": "C.UTF-8"}
    env.update(stack_env)
    env.update(secrets)
    env.update(run_vars)
    env["PATH"] = ":".join(path)
    env["HOME"] = str(home)
    return env


def _check_run_vars(values: Mapping[str, str]) -> None:
    unknown = sorted(set(values) - RUN_VAR_NAMES)
    missing = sorted(RUN_VAR_NAMES - set(values))
    if unknown or missing:
        raise ValueError(
            f"run vars must be exactly {sorted(RUN_VAR_NAMES)}; unknown {unknown}, missing {missing}"
        )
    _check_values(values)


def _check_user_vars(kind: str, values: Mapping[str, str]) -> None:
    for name in values:
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise ValueError(f"{kind} name {name!r} is not a shell identifier ([A-Za-z_][A-Za-z0-9_]*)")
        if name in _RESERVED or name.startswith(_RESERVED_PREFIX):
            raise ValueError(f"{kind} {name!r} is set by Stackyard for every run and cannot be overridden")
    _check_values(values)


def _check_values(values: Mapping[str, str]) -> None:
    for name, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f"variable {name!r} must be a string, got {type(value).__name__}")
        if "\0" in value:
            raise ValueError(f"variable {name!r} contains a NUL byte, which no process environment can hold")
