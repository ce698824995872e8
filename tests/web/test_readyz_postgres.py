"""Readiness follows the real PostgreSQL: 503 while it is stopped, 200 again after, no restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import create_app, create_platform
from stackyard.settings import Settings
from stackyard.storage.migrate import upgrade
from support.servers import PostgresServer, postgres_server


@pytest.fixture
def own_pg() -> Iterator[PostgresServer]:
    """Its own server, since this test stops it."""
    with postgres_server() as server:
        yield server


def test_readyz_follows_postgres(own_pg: PostgresServer, tmp_path: Path) -> None:
    platform = create_platform(Settings(data_dir=tmp_path / "data", database_url=own_pg.url))  # type: ignore[call-arg]
    upgrade(platform.engine)
    with TestClient(create_app(platform)) as client:
        assert client.get("/readyz").status_code == 200
        own_pg.stop()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json() == {"database": "down", "queue": "ok"}
        own_pg.start()
        assert client.get("/readyz").status_code == 200
