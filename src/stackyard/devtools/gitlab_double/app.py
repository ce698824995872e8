"""The double's ASGI app: raw-path routing, faults, auth and request recording around the route table."""

from __future__ import annotations

import asyncio
import json
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import (
    routes_deployments,
    routes_environments,
    routes_hooks,
    routes_merge_requests,
    routes_repository,
    routes_statuses,
)
from .api import Answer, Context, authenticate, require_scope
from .errors import ApiError
from .faults import Fault
from .records import RecordedRequest
from .routing import Route

if TYPE_CHECKING:
    from .double import GitLabDouble

ROUTES: tuple[Route, ...] = (
    *routes_repository.ROUTES,
    *routes_statuses.ROUTES,
    *routes_merge_requests.ROUTES,
    *routes_environments.ROUTES,
    *routes_deployments.ROUTES,
    *routes_hooks.ROUTES,
)
USER_ENDPOINTS = {"/api/v4/user", "/api/v4/personal_access_tokens/self"}


def throttled(retry_after: int, now: float) -> ApiError:
    """Rack::Attack's 429: text body and RateLimit-* headers, Retry-After in seconds (GITLAB.md C10)."""
    reset = int(now) + retry_after
    return ApiError(
        429,
        "Retry later\n",
        text=True,
        headers={
            "Retry-After": str(retry_after),
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": "2000",
            "RateLimit-Observed": "2001",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        },
    )


def fault_error(fault: Fault, now: float) -> ApiError:
    if fault.kind == "429":
        return throttled(fault.retry_after, now)
    if fault.kind == "timeout":
        return ApiError(504, "504 Gateway Time-out\n", text=True)
    if fault.kind in {"502", "503"}:
        reason = {"502": "Bad Gateway", "503": "Service Unavailable"}[fault.kind]
        return ApiError(int(fault.kind), f"{fault.kind} {reason}\n", text=True)
    reason = {"500": "Internal Server Error", "409": "Conflict", "404": "Not Found"}.get(fault.kind, "Error")
    return ApiError(int(fault.kind), {"message": f"{fault.kind} {reason}"})


def to_response(answer: Answer) -> Response:
    if answer.status == 204 or answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    if answer.raw:
        return Response(answer.body, status_code=answer.status, headers=answer.headers,
                        media_type=answer.media_type)
    return Response(json.dumps(answer.body), status_code=answer.status, headers=answer.headers,
                    media_type="application/json")


def error_answer(error: ApiError) -> Answer:
    if error.text:
        return Answer(str(error.body).encode(), status=error.status, headers=error.headers, raw=True,
                      media_type="text/plain")
    return Answer(error.body, status=error.status, headers=error.headers)


async def read_params(request: Request) -> dict[str, Any] | None:
    """Body parameters from JSON or a form (GITLAB.md C0); None when there is no body."""
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if not raw:
        return None
    if "json" in content_type:
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise ApiError(400, {"error": "400 Bad Request"}) from None
        return parsed if isinstance(parsed, dict) else {"_json": parsed}
    if "form" in content_type:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return None


class DoubleApp:
    """Matches routes on scope["raw_path"] so %2F-encoded project paths stay one segment (C0)."""

    def __init__(self, double: GitLabDouble) -> None:
        self.double = double

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        scope = request.scope
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        query = dict(request.query_params)
        try:
            body = await read_params(request)
        except ApiError as error:
            return to_response(error_answer(error))
        user_name: str | None = None
        try:
            if not raw_path.startswith("/api/v4/"):
                raise ApiError(404, {"error": "404 Not Found"})
            fault = self.double.faults.pick(raw_path, request.method)
            if fault is not None and not fault.applied:
                await self.raise_fault(fault)  # nothing is applied (fail before mutation)
            answer, user_name = await self.dispatch(request, raw_path, query, body)
            if fault is not None:
                await self.raise_fault(fault)  # applied: GitLab holds the change, the client never hears
        except ApiError as error:
            answer = error_answer(error)
        with self.double.lock:
            self.double.requests.append(
                RecordedRequest(request.method, raw_path, query, body, answer.status, user_name)
            )
        return to_response(answer)

    async def raise_fault(self, fault: Fault) -> None:
        if fault.kind == "timeout":
            # Answer too late for the client, which has given up by then.
            await asyncio.sleep(self.double.faults.timeout_seconds)
        raise fault_error(fault, time.time())

    async def dispatch(
        self, request: Request, raw_path: str, query: dict[str, str], body: dict[str, Any] | None
    ) -> tuple[Answer, str | None]:
        matches = [(r, m) for r in ROUTES if (m := r.pattern.match(raw_path))]
        if not matches:
            raise ApiError(404, {"error": "404 Not Found"})
        chosen = next(((r, m) for r, m in matches if r.method == request.method), None)
        if chosen is None:
            raise ApiError(405, {"error": "405 Not Allowed"})
        route, match = chosen
        token, user = authenticate(self.double, request.headers)
        require_scope(token, write=request.method != "GET", user_endpoint=raw_path in USER_ENDPOINTS)
        host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
        ctx = Context(
            double=self.double,
            method=request.method,
            raw_path=raw_path,
            path_params=dict(match.groupdict()),
            params={**query, **(body or {})},
            query=query,
            base_url=f"{scope_scheme(request)}://{host}",
            token=token,
            user=user,
            event_uuid=request.headers.get("x-gitlab-event-uuid"),
        )
        try:
            answer = await run_in_threadpool(route.handler, ctx)
        except ApiError as error:
            return error_answer(error), user.username if user else None
        return answer, user.username if user else None


def scope_scheme(request: Request) -> str:
    return str(request.scope.get("scheme", "http"))
