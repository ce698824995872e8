"""The REST API under /api/v1: every route needs a bearer token (SPEC.md, HTTP)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stackyard.web.api import deliveries, feedback, integrations, modules, runs, stacks
from stackyard.web.deps import require_principal

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_principal)])
router.include_router(integrations.router)
router.include_router(stacks.router)
router.include_router(modules.router)
router.include_router(deliveries.router)
router.include_router(runs.router)
router.include_router(feedback.router)
