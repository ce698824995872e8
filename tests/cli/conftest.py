"""The client commands run against a real Stackyard served on loopback, as a user's shell would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from stackyard.bootstrap import Platform, create_app
from stackyard.devtools.gitlab_double.server import serve_asgi


@pytest.fixture
def cli(platform: Platform, admin_token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    with serve_asgi(create_app(platform)) as url:
        monkeypatch.setenv("STACKYARD_URL", url)
        monkeypatch.setenv("STACKYARD_TOKEN", admin_token)
        yield CliRunner()
