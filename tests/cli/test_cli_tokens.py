"""`stackyard token create` prints the token alone on the last line; it then opens the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stackyard.bootstrap import create_app, create_platform
from stackyard.cli.main import app
from stackyard.settings import Settings


def test_token_create_then_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKYARD_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["token", "create", "--name", "ops", "--role", "reader"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("sy_")
    platform = create_platform(Settings(data_dir=tmp_path))  # type: ignore[call-arg]
    with TestClient(create_app(platform)) as client:
        assert client.get("/api/v1/stacks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    stored = (tmp_path / "stackyard.db").read_bytes()
    assert token.encode() not in stored


def test_token_create_rejects_unknown_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKYARD_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["token", "create", "--name", "x", "--role", "owner"])
    assert result.exit_code == 2


def test_help_explains_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "db", "token", "integration", "stack", "delivery"):
        assert command in result.output
