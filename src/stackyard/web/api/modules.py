"""Modules over the API: create, list, read, change, delete, their versions and their test runs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from stackyard.services import module_versions as versions
from stackyard.services import modules as service
from stackyard.services import runs
from stackyard.services.stacks import get_stack
from stackyard.storage.tables import Integration, ModuleVersion, Run, Stack
from stackyard.web.api.pagination import LimitParam, newest_first
from stackyard.web.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/modules", tags=["modules"])


class ModuleCreate(BaseModel):
    """Exactly SPEC's fields (POST /api/v1/modules)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    integration: str
    repository: str = Field(min_length=1, max_length=500)
    project_root: str = Field(default="", max_length=500)
    namespace: str = Field(min_length=1, max_length=64)
    provider: str = Field(min_length=1, max_length=64)
    vendor: str = "opentofu"
    commands: dict[str, list[str]] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    install_webhook: bool = True


class ModulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_root: str | None = Field(default=None, max_length=500)
    namespace: str | None = Field(default=None, min_length=1, max_length=64)
    provider: str | None = Field(default=None, min_length=1, max_length=64)
    vendor: str | None = None
    commands: dict[str, list[str]] | None = None
    environment: dict[str, str] | None = None
    secrets: dict[str, str | None] | None = None
    install_webhook: bool | None = None


class TagTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = Field(min_length=1, max_length=255)


def _integration_name(session: Any, integration_id: int) -> str:
    return str(session.scalar(select(Integration.name).where(Integration.id == integration_id)))


@router.get("")
def list_modules(
    platform: PlatformDep, session: SessionDep, limit: LimitParam = 100, cursor: str | None = None
) -> dict[str, Any]:
    rows, next_cursor = newest_first(session, service.modules_query(), Stack.id, limit=limit, cursor=cursor)
    names = {i.id: i.name for i in session.scalars(select(Integration))}
    return {
        "items": [service.describe_module(platform, r, names[r.integration_id]) for r in rows],
        "next": next_cursor,
    }


@router.post("", status_code=201)
async def create_module(body: ModuleCreate, platform: PlatformDep) -> dict[str, Any]:
    row = await asyncio.to_thread(service.create_module, platform, body.model_dump())
    return service.describe_module(platform, row, body.integration)


@router.get("/{name}")
def read_module(name: str, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    row = get_stack(session, name, kind=service.KIND)
    return service.describe_module(platform, row, _integration_name(session, row.integration_id))


@router.patch("/{name}")
def patch_module(name: str, body: ModulePatch, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    row = service.update_module(platform, name, body.model_dump(exclude_unset=True))
    return service.describe_module(platform, row, _integration_name(session, row.integration_id))


@router.delete("/{name}", status_code=204)
def delete_module(name: str, platform: PlatformDep, force: bool = False) -> None:
    """409 while a test run has not ended, or (unless force) while updates of its runs are on their way to GitLab."""
    service.delete_module(platform, name, force=force)


@router.get("/{name}/versions")
def list_versions(
    name: str, session: SessionDep, limit: LimitParam = 100, cursor: str | None = None
) -> dict[str, Any]:
    """Newest first: the most recently published version first."""
    module = get_stack(session, name, kind=service.KIND)
    rows, next_cursor = newest_first(
        session, versions.versions_query(module.id), ModuleVersion.id, limit=limit, cursor=cursor
    )
    return {"items": [versions.describe_version(r) for r in rows], "next": next_cursor}


@router.post("/{name}/versions/{version}/yank")
def yank_version(name: str, version: str, platform: PlatformDep) -> dict[str, Any]:
    return versions.set_yanked(platform, name, version, yanked=True)


@router.post("/{name}/versions/{version}/unyank")
def unyank_version(name: str, version: str, platform: PlatformDep) -> dict[str, Any]:
    return versions.set_yanked(platform, name, version, yanked=False)


@router.get("/{name}/runs")
def list_module_runs(
    name: str, session: SessionDep, limit: LimitParam = 100, cursor: str | None = None
) -> dict[str, Any]:
    module = get_stack(session, name, kind=service.KIND)
    rows, next_cursor = newest_first(
        session, select(Run).where(Run.stack_id == module.id), Run.id, limit=limit, cursor=cursor
    )
    return {"items": [runs.describe_run(r, module) for r in rows], "next": next_cursor}


@router.post("/{name}/runs", status_code=201)
async def test_module_tag(name: str, body: TagTest, platform: PlatformDep) -> dict[str, Any]:
    run_id = await asyncio.to_thread(service.test_tag, platform, name, tag=body.tag)
    with platform.sessions() as session:
        return runs.describe_run(runs.get_run(session, run_id), get_stack(session, name, kind=service.KIND))
