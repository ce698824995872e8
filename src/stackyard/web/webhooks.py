"""POST /webhooks/gitlab/{integration}: the lean intake route GitLab calls (SPEC.md, Webhook).

A pure ASGI app in front of FastAPI (web/app.py): routing, middleware, dependency injection and pydantic
would cost more than the rest of the request (see README, "Benchmarks"). It checks the token (and the
signature), reads the body with a size limit, checks it is a JSON object with orjson, and awaits the
group commit of its delivery.
Nothing here blocks the event loop except on a secrets-cache miss, which goes to a thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from stackyard.logs import get_logger
from stackyard.services.intake import Incoming
from stackyard.web.webhook_secrets import Refusal, WebhookSecrets, judge

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform
    from stackyard.web.delivery_batcher import DeliveryBatcher
    from stackyard.web.metrics import Metrics

log = get_logger(__name__)

PREFIX = "/webhooks/gitlab/"
ROUTE = "/webhooks/gitlab/{name}"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client disconnected before sending the whole body: there is nobody to answer."""


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answer(send: Send, status: int, content: dict[str, object]) -> None:
    body = orjson.dumps(content)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class WebhookIntake:
    """ASGI app for /webhooks/gitlab/…; as middleware, anything else goes on to `app`."""

    def __init__(
        self, app: ASGIApp, *, platform: Platform, secrets: WebhookSecrets, batcher: DeliveryBatcher, metrics: Metrics
    ) -> None:
        self.app = app
        self._secrets = secrets
        self._batcher = batcher
        self._limit = platform.settings.webhook_max_body
        self._tolerance = platform.settings.webhook_signature_tolerance
        self._counted = {
            status: metrics.requests.labels("POST", ROUTE, str(status))
            for status in (200, 202, 400, 401, 404, 405, 413, 503)
        }
        self._latency = metrics.latency.labels("POST", ROUTE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            status, content = await self._receive(scope, receive)
        except _Gone:
            return
        await _answer(send, status, content)
        counter = self._counted.get(status)
        if counter is not None:
            counter.inc()
        self._latency.observe(time.perf_counter() - started)

    async def _receive(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, object]]:
        """202 new delivery (kept durably), 200 already seen, 401 bad token or signature, 404 unknown integration."""
        name = scope["path"][len(PREFIX) :]
        if not name or "/" in name:
            return 404, {"detail": "Not Found"}
        if scope["method"] != "POST":
            return 405, {"detail": "Method Not Allowed: GitLab delivers webhooks with POST"}
        entry = self._secrets.cached(name) or await asyncio.to_thread(self._secrets.load, name)
        if entry is None:
            return 404, {"detail": f"no integration named {name!r}"}
        # ASGI servers lower-case header names (the spec asks it; Starlette's Headers relies on it too).
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        declared = headers.get("content-length", "")
        # The answer may come before the body is read (SPEC.md): GitLab never sends over 25 MB (A7).
        if declared.isdigit() and int(declared) > self._limit:
            return 413, {"detail": "body over the size limit"}
        try:
            body = await _read_body(receive, self._limit)
        except _TooLarge:
            return 413, {"detail": "body over the size limit"}
        verdict = judge(entry, headers, body, now=time.time(), tolerance=self._tolerance)
        if verdict.refusal is Refusal.TOKEN or verdict.refusal is Refusal.SIGNATURE:
            # A secret or signing token set since the cache was filled (a hook just installed) must work at once.
            reloaded = await asyncio.to_thread(self._secrets.load, name)
            if reloaded is None:
                return 404, {"detail": f"no integration named {name!r}"}
            entry = reloaded
            verdict = judge(entry, headers, body, now=time.time(), tolerance=self._tolerance)
        if verdict.refusal is not None:
            return 401, {"detail": str(verdict.refusal)}
        if verdict.unverifiable_signature:
            self._secrets.warn_unverifiable(name, entry.integration_id)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, {"detail": "body is not JSON"}
        if not isinstance(parsed, dict):
            return 400, {"detail": "body is not a JSON object"}
        try:
            accepted = await self._batcher.submit(Incoming(entry.integration_id, headers, body))
        except Exception as exc:  # the database is down: GitLab must see a failure, and may resend
            log.error("could not store a webhook delivery", integration=name, error=repr(exc))
            return 503, {"detail": "the delivery could not be stored; it was not accepted"}
        if accepted.new:
            return 202, {"delivery": accepted.delivery_id, "status": "accepted"}
        return 200, {"delivery": accepted.delivery_id, "status": "already received"}
