"""Deliveries over the API: what GitLab sent and what became of it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from stackyard.services.deliveries import describe_delivery
from stackyard.storage.tables import Delivery, DeliveryRun, Integration
from stackyard.web.api.pagination import LimitParam, newest_first
from stackyard.web.deps import SessionDep

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


@router.get("")
def list_deliveries(session: SessionDep, limit: LimitParam = 100, cursor: str | None = None) -> dict[str, Any]:
    rows, next_cursor = newest_first(session, select(Delivery), Delivery.id, limit=limit, cursor=cursor)
    ids = [r.id for r in rows]
    runs: dict[int, list[int]] = defaultdict(list)
    for link in session.scalars(select(DeliveryRun).where(DeliveryRun.delivery_id.in_(ids))):
        runs[link.delivery_id].append(link.run_id)
    names = {i.id: i.name for i in session.scalars(select(Integration))}
    return {"items": [describe_delivery(r, names[r.integration_id], sorted(runs[r.id])) for r in rows],
            "next": next_cursor}
