"""Readiness and the webhook writer follow the real PostgreSQL through a stop and a start, no restart of ours."""

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


def test_webhook_writer_survives_a_database_restart(own_pg: PostgresServer, tmp_path: Path) -> None:
    """The delivery store holds one connection; a restart kills it, and the next batch still commits."""
    from sqlalchemy import select

    from stackyard.services.intake import DeliveryStore, Incoming
    from stackyard.services.integrations import create_integration
    from stackyard.storage.tables import Delivery

    platform = create_platform(Settings(data_dir=tmp_path / "data", database_url=own_pg.url))  # type: ignore[call-arg]
    upgrade(platform.engine)
    gl = create_integration(platform, name="gl", kind="gitlab", api_url="https://gitlab.example.com", token="t")
    store = DeliveryStore(platform)
    try:
        before = store.store([Incoming(gl.id, {"idempotency-key": "before"}, b"{}")])
        own_pg.stop()
        own_pg.start()
        after = store.store([Incoming(gl.id, {"idempotency-key": "after"}, b"{}")])
    finally:
        store.close()
    assert [a.new for a in before.answers + after.answers] == [True, True]
    with platform.sessions() as session:
        assert list(session.scalars(select(Delivery.idempotency_key).order_by(Delivery.id))) == ["before", "after"]
