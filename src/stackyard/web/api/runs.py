"""Runs over the API: read one, its log (whole, paged, or followed live), and act on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.core.runs import TERMINAL, RunState
from stackyard.services import runs
from stackyard.services.run_log import log_lines, log_text
from stackyard.storage.tables import Run, Stack
from stackyard.web.api.pagination import LimitParam, newest_first
from stackyard.web.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/runs", tags=["runs"])

# How often a live log follower looks for new lines; the log writer commits about as often.
_FOLLOW_EVERY = 0.5


@router.get("")
def list_runs(session: SessionDep, limit: LimitParam = 100, cursor: str | None = None) -> dict[str, Any]:
    rows, next_cursor = newest_first(session, select(Run), Run.id, limit=limit, cursor=cursor)
    stacks = {s.id: s for s in session.scalars(select(Stack).where(Stack.id.in_({r.stack_id for r in rows})))}
    return {"items": [runs.describe_run(r, stacks[r.stack_id]) for r in rows], "next": next_cursor}


@router.get("/{run_id}")
def read_run(run_id: int, session: SessionDep) -> dict[str, Any]:
    run = runs.get_run(session, run_id)
    stack = session.get(Stack, run.stack_id)
    assert stack is not None
    return {**runs.describe_run(run, stack), "plan": run.plan_text}


@router.get("/{run_id}/logs", response_class=PlainTextResponse)
def read_logs(run_id: int, session: SessionDep) -> str:
    runs.get_run(session, run_id)
    return log_text(session, run_id)


@router.get("/{run_id}/log-lines")
def read_log_lines(
    run_id: int, session: SessionDep, after: Annotated[int, Query(ge=0)] = 0, limit: LimitParam = 500
) -> dict[str, Any]:
    """Lines after sequence number `after`: a follower asks again with the last `seq` it saw."""
    run = runs.get_run(session, run_id)
    lines = log_lines(session, run_id, after=after, limit=limit)
    return {
        "state": run.state,
        "done": RunState(run.state) in TERMINAL,
        "lines": [{"seq": ln.seq, "at": ln.at.isoformat(), "stream": ln.stream, "line": ln.line} for ln in lines],
    }


@router.get("/{run_id}/logs/stream")
async def follow_logs(run_id: int, platform: PlatformDep) -> StreamingResponse:
    """Server-sent events: one `line` event per log line, then `end` once the run has ended."""

    def page(after: int) -> tuple[list[dict[str, Any]], bool]:
        with platform.sessions() as session:
            run = runs.get_run(session, run_id)
            done = RunState(run.state) in TERMINAL
            found = log_lines(session, run_id, after=after, limit=1000)
            return [{"seq": ln.seq, "stream": ln.stream, "line": ln.line} for ln in found], done

    await asyncio.to_thread(page, 0)  # 404 before the stream starts

    async def events() -> AsyncIterator[bytes]:
        after = 0
        while True:
            lines, done = await asyncio.to_thread(page, after)
            for line in lines:
                after = line["seq"]
                yield b"event: line\ndata: " + orjson.dumps(line) + b"\n\n"
            if done and not lines:
                yield b"event: end\ndata: {}\n\n"
                return
            if not lines:
                await asyncio.sleep(_FOLLOW_EVERY)

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post("/{run_id}/confirm")
async def confirm(run_id: int, platform: PlatformDep) -> dict[str, Any]:
    await asyncio.to_thread(runs.confirm_run, platform, run_id)
    return _describe(platform, run_id)


@router.post("/{run_id}/discard")
async def discard(run_id: int, platform: PlatformDep) -> dict[str, Any]:
    await asyncio.to_thread(runs.discard_run, platform, run_id)
    return _describe(platform, run_id)


@router.post("/{run_id}/cancel")
async def cancel(run_id: int, platform: PlatformDep) -> dict[str, Any]:
    await asyncio.to_thread(runs.cancel_run, platform, run_id)
    return _describe(platform, run_id)


def _describe(platform: Platform, run_id: int) -> dict[str, Any]:
    with platform.sessions() as session:
        run = runs.get_run(session, run_id)
        stack = session.get(Stack, run.stack_id)
        assert stack is not None
        return runs.describe_run(run, stack)
