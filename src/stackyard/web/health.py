"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from stackyard.bootstrap import Platform
from stackyard.worker.queue import queue_is_up

router = APIRouter(include_in_schema=True, tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _database_is_up(platform: Platform) -> bool:
    try:
        with platform.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    platform: Platform = request.app.state.platform
    database, queue = await asyncio.gather(
        asyncio.to_thread(_database_is_up, platform), asyncio.to_thread(queue_is_up, platform.huey)
    )
    body = {"database": "ok" if database else "down", "queue": "ok" if queue else "down"}
    return JSONResponse(body, status_code=200 if database and queue else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    payload = await asyncio.to_thread(generate_latest, registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
