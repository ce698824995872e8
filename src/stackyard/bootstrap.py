"""The composition root: builds every stateful object from settings, once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from huey import Huey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from stackyard.settings import Settings
from stackyard.storage.db import create_db_engine, create_session_factory
from stackyard.storage.secrets import SecretBox, load_or_create_key
from stackyard.worker.queue import create_huey

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stackyard.worker.tasks import Tasks


@dataclass
class Platform:
    """What every adapter needs; passed explicitly instead of living in module globals."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    huey: Huey
    tasks: Tasks = field(init=False)
    # Set when the process is shutting down: running plans hand their run back to the queue.
    stopping: threading.Event = field(default_factory=threading.Event)


def create_platform(settings: Settings) -> Platform:
    from stackyard.worker.tasks import register_tasks

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(settings.database_url)
    key = load_or_create_key(
        settings.secret_key.get_secret_value() if settings.secret_key else None, settings.data_dir
    )
    platform = Platform(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(engine),
        box=SecretBox(key),
        huey=create_huey(settings.queue_url, name=settings.queue_name),
    )
    platform.tasks = register_tasks(platform)
    return platform


def create_app(platform: Platform) -> FastAPI:
    from stackyard.web.app import build_app

    return build_app(platform)
