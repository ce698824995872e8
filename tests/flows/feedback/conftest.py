"""Feedback flows: GitLab answers fast or not at all (a short client timeout), and links point at a
public URL that is plainly not this machine, so tests can tell Stackyard's links apart."""

from __future__ import annotations

import pytest

from stackyard.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"gitlab_timeout": 1.0, "public_url": "https://stackyard.example"})
