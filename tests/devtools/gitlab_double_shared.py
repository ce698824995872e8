"""Constants and records shared by the GitLab double tests (a unique module name: tests have no packages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TOKEN = "glpat-abc"
# The shared corpus of real payloads; a repo-local copy under tests/fixtures wins when present.
_LOCAL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitlab-webhooks"
FIXTURES_DIR = _LOCAL_FIXTURES if _LOCAL_FIXTURES.is_dir() else Path("/work/shared/fixtures/gitlab-webhooks")
PROJECT_PATH = "group/sub/app"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
