"""POST /webhooks/gitlab/{integration}: the lean intake route GitLab calls (SPEC.md, Webhook)."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stackyard.bootstrap import Platform
from stackyard.services.intake import store_delivery
from stackyard.web.webhook_secrets import WebhookSecrets, matches

router = APIRouter(tags=["webhooks"])


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/gitlab/{name}", include_in_schema=True)
async def receive(name: str, request: Request) -> JSONResponse:
    """202 new delivery (kept durably), 200 already seen, 401 bad token, 404 unknown integration."""
    platform: Platform = request.app.state.platform
    cache: WebhookSecrets = request.app.state.webhook_secrets
    entry = cache.cached(name) or await asyncio.to_thread(cache.load, name)
    if entry is None:
        return JSONResponse({"detail": f"no integration named {name!r}"}, status_code=404)
    try:
        body = await _read_body(request, platform.settings.webhook_max_body)
    except _TooLarge:
        return JSONResponse({"detail": "body over the size limit"}, status_code=413)
    headers = {k.lower(): v for k, v in request.headers.items()}
    token = headers.get("x-gitlab-token")
    if not matches(entry, token):
        # A secret created since the cache was filled (a hook just installed) must still be accepted.
        entry = await asyncio.to_thread(cache.load, name)
        if entry is None or not matches(entry, token):
            return JSONResponse({"detail": "missing or wrong X-Gitlab-Token"}, status_code=401)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return JSONResponse({"detail": "body is not JSON"}, status_code=400)
    if not isinstance(parsed, dict):
        return JSONResponse({"detail": "body is not a JSON object"}, status_code=400)
    accepted = await asyncio.to_thread(
        store_delivery, platform, integration_id=entry.integration_id, headers=headers, body=body
    )
    if accepted.new:
        return JSONResponse({"delivery": accepted.delivery_id, "status": "accepted"}, status_code=202)
    return JSONResponse({"delivery": accepted.delivery_id, "status": "already received"}, status_code=200)
