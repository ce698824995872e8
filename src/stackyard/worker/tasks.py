"""Thin Huey tasks: each one opens a service call; the names are what the queue carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


@dataclass(frozen=True)
class Tasks:
    """Enqueue functions; call them only after the transaction that made the work has committed."""


def register_tasks(platform: Platform) -> Tasks:
    """Registers this process's tasks on its Huey instance (same names in the web and worker processes)."""
    return Tasks()
