"""Shared fixtures: a platform on the selected backends, an API client, tokens.

STACKYARD_TEST_DB=sqlite|postgresql and STACKYARD_TEST_QUEUE=sqlite|redis pick the backends;
PostgreSQL and Redis are real servers started here on loopback.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform, create_app, create_platform
from stackyard.services.tokens import create_token
from stackyard.settings import Settings
from stackyard.storage.migrate import upgrade
from support.servers import PostgresServer, fresh_database, postgres_server, redis_server

DB_BACKEND = os.environ.get("STACKYARD_TEST_DB", "sqlite")
QUEUE_BACKEND = os.environ.get("STACKYARD_TEST_QUEUE", "sqlite")


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, object] = {"data_dir": tmp_path / "data", "queue_name": "t" + uuid.uuid4().hex[:12]}
    if DB_BACKEND == "postgresql":
        overrides["database_url"] = fresh_database(request.getfixturevalue("pg"))
    if QUEUE_BACKEND == "redis":
        overrides["queue_url"] = request.getfixturevalue("redis_url")
    return Settings(**overrides)  # type: ignore[arg-type]


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    built = create_platform(settings)
    upgrade(built.engine)
    yield built
    built.engine.dispose()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as test_client:
        yield test_client


@pytest.fixture
def admin_token(platform: Platform) -> str:
    return create_token(platform.sessions, name="admin-" + uuid.uuid4().hex[:6], role="admin")


@pytest.fixture
def reader_token(platform: Platform) -> str:
    return create_token(platform.sessions, name="reader-" + uuid.uuid4().hex[:6], role="reader")


@pytest.fixture
def admin(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def reader(reader_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {reader_token}"}
