"""What a stack is, as far as routing events to it is concerned."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class StackSpec:
    name: str
    integration: str
    project_id: int
    branch: str
    project_root: str = ""
    watched_paths: tuple[str, ...] = ()
    autodeploy: bool = False
    allow_forks: bool = False
    vendor: str = "commands"
    kind: str = "stack"  # "stack" or "module"
    extra: dict[str, str] = field(default_factory=dict)

    def watches(self, path: str) -> bool:
        """A changed file matters when it is under the project root or matches a watched glob."""
        root = normalise_root(self.project_root)
        if not root or path == root or path.startswith(root + "/"):
            return True
        return any(fnmatchcase(path, pattern) or path.startswith(pattern.rstrip("/") + "/")
                   for pattern in self.watched_paths)

    def affected_by(self, paths: Iterable[str]) -> bool:
        return any(self.watches(p) for p in paths)


def normalise_root(project_root: str) -> str:
    """'./infra/prod/' and 'infra/prod' name the same folder; '' and '.' the repository root."""
    cleaned = posixpath.normpath(project_root.strip().strip("/")) if project_root.strip() else ""
    return "" if cleaned in {".", ""} else cleaned
