"""Integrations over the API: GitLab servers, their webhook secret, signing token and token health."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from stackyard.services import hooks as hook_service
from stackyard.services import integrations as service
from stackyard.storage.tables import Integration, ManagedHook
from stackyard.web.deps import CurrentPrincipal, PlatformDep, SessionDep

router = APIRouter(prefix="/integrations", tags=["integrations"])


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = "gitlab"
    name: str = Field(min_length=1, max_length=100)
    api_url: str = Field(min_length=1, max_length=500)
    token: str = Field(min_length=1, max_length=1000)
    # For hooks installed by hand with a GitLab 19.0+ signing token (whsec_…): copy it here.
    signing_token: str | None = Field(default=None, max_length=1000)


class IntegrationUpdate(BaseModel):
    """Only the fields sent change; `"signing_token": null` removes the signing token."""

    model_config = ConfigDict(extra="forbid")
    token: str | None = Field(default=None, min_length=1, max_length=1000)
    signing_token: str | None = Field(default=None, max_length=1000)


@router.post("", status_code=201)
def create_integration(body: IntegrationCreate, platform: PlatformDep) -> dict[str, Any]:
    row = service.create_integration(
        platform, name=body.name, kind=body.kind, api_url=body.api_url, token=body.token,
        signing_token=body.signing_token,
    )
    return service.describe_integration(platform, row, admin=True)


@router.get("")
def list_integrations(platform: PlatformDep, session: SessionDep, who: CurrentPrincipal) -> dict[str, Any]:
    rows = session.scalars(select(Integration).order_by(Integration.id.desc()))
    return {"items": [service.describe_integration(platform, r, admin=who.is_admin) for r in rows], "next": None}


@router.get("/{name}")
def read_integration(name: str, platform: PlatformDep, session: SessionDep, who: CurrentPrincipal) -> dict[str, Any]:
    row = service.get_integration(session, name)
    hooks = list(session.scalars(select(ManagedHook).where(ManagedHook.integration_id == row.id)))
    return service.describe_integration(platform, row, admin=who.is_admin, hooks=hooks)


@router.patch("/{name}")
def update_integration(name: str, body: IntegrationUpdate, platform: PlatformDep) -> dict[str, Any]:
    sent = body.model_fields_set
    row = service.update_integration(
        platform,
        name,
        token=body.token,
        signing_token=body.signing_token,
        remove_signing_token="signing_token" in sent and body.signing_token is None,
    )
    return service.describe_integration(platform, row, admin=True)


@router.delete("/{name}", status_code=204)
def delete_integration(name: str, platform: PlatformDep, force: bool = False) -> None:
    """409 while stacks or modules use it, or (unless force) while hooks Stackyard installed may be left in GitLab."""
    service.delete_integration(platform, name, force=force)


@router.post("/{name}/rotate-secret")
def rotate_secret(name: str, platform: PlatformDep) -> dict[str, Any]:
    row = service.rotate_secret(platform, name)
    return service.describe_integration(platform, row, admin=True)


@router.post("/{name}/rotate-signing-token")
def rotate_signing_token(name: str, platform: PlatformDep) -> dict[str, Any]:
    row = service.rotate_signing_token(platform, name)
    return service.describe_integration(platform, row, admin=True)


@router.post("/{name}/check")
async def check(name: str, platform: PlatformDep) -> dict[str, Any]:
    return asdict(await asyncio.to_thread(service.check_integration, platform, name))


@router.post("/{name}/hooks/repair")
async def repair_hooks(name: str, platform: PlatformDep) -> dict[str, Any]:
    outcomes = await asyncio.to_thread(hook_service.repair_hooks, platform, name)
    return {"items": [asdict(o) for o in outcomes], "next": None}
