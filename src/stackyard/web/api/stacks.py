"""Stacks over the API: create, list, read, change, delete, and their runs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from stackyard.services import runs
from stackyard.services import stacks as service
from stackyard.storage.tables import Integration, Run, Stack
from stackyard.web.api.pagination import LimitParam, newest_first
from stackyard.web.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/stacks", tags=["stacks"])


class StackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    integration: str
    repository: str = Field(min_length=1, max_length=500)
    branch: str = Field(default="main", min_length=1, max_length=255)
    project_root: str = Field(default="", max_length=500)
    watched_paths: list[str] = Field(default_factory=list)
    vendor: str = "opentofu"
    commands: dict[str, list[str]] = Field(default_factory=dict)
    autodeploy: bool = False
    allow_forks: bool = False
    report_untouched: bool = False
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    install_webhook: bool = True
    time_limit: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)


class StackPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    branch: str | None = Field(default=None, min_length=1, max_length=255)
    project_root: str | None = Field(default=None, max_length=500)
    watched_paths: list[str] | None = None
    vendor: str | None = None
    commands: dict[str, list[str]] | None = None
    autodeploy: bool | None = None
    allow_forks: bool | None = None
    report_untouched: bool | None = None
    environment: dict[str, str] | None = None
    secrets: dict[str, str | None] | None = None
    install_webhook: bool | None = None
    time_limit: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)


class RunTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = "tracked"
    sha: str | None = None


def _integration_names(session: Any) -> dict[int, str]:
    return {i.id: i.name for i in session.scalars(select(Integration))}


@router.get("")
def list_stacks(session: SessionDep, limit: LimitParam = 100, cursor: str | None = None) -> dict[str, Any]:
    rows, next_cursor = newest_first(
        session, select(Stack).where(Stack.kind == "stack"), Stack.id, limit=limit, cursor=cursor
    )
    names = _integration_names(session)
    return {"items": [service.describe_stack(r, names[r.integration_id]) for r in rows], "next": next_cursor}


@router.post("", status_code=201)
async def create_stack(body: StackCreate, platform: PlatformDep) -> dict[str, Any]:
    row = await asyncio.to_thread(service.create_stack, platform, body.model_dump())
    return service.describe_stack(row, body.integration)


@router.get("/{name}")
def read_stack(name: str, session: SessionDep) -> dict[str, Any]:
    row = service.get_stack(session, name)
    return service.describe_stack(row, _integration_names(session)[row.integration_id])


@router.patch("/{name}")
def patch_stack(name: str, body: StackPatch, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    row = service.update_stack(platform, name, body.model_dump(exclude_unset=True))
    return service.describe_stack(row, _integration_names(session)[row.integration_id])


@router.delete("/{name}", status_code=204)
def delete_stack(name: str, platform: PlatformDep, force: bool = False) -> None:
    """409 while a run has not ended, or (unless force) while updates of its runs are still on their way to GitLab."""
    service.delete_stack(platform, name, force=force)


@router.get("/{name}/runs")
def list_stack_runs(
    name: str, session: SessionDep, limit: LimitParam = 100, cursor: str | None = None
) -> dict[str, Any]:
    stack = service.get_stack(session, name)
    rows, next_cursor = newest_first(
        session, select(Run).where(Run.stack_id == stack.id), Run.id, limit=limit, cursor=cursor
    )
    return {"items": [runs.describe_run(r, stack) for r in rows], "next": next_cursor}


@router.post("/{name}/runs", status_code=201)
async def trigger_stack_run(name: str, body: RunTrigger, platform: PlatformDep) -> dict[str, Any]:
    run_id = await asyncio.to_thread(runs.trigger_run, platform, name, run_type=body.type, sha=body.sha)
    with platform.sessions() as session:
        run = runs.get_run(session, run_id)
        return runs.describe_run(run, service.get_stack(session, name))
