"""Deliveries over the API: what GitLab sent and what became of it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from stackyard.services.deliveries import describe_delivery
from stackyard.storage.tables import Delivery, DeliveryRun, Integration
from stackyard.web.api.pagination import LimitParam, page, parse_cursor
from stackyard.web.deps import SessionDep

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


@router.get("")
def list_deliveries(session: SessionDep, limit: LimitParam = 100, cursor: str | None = None) -> dict[str, Any]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit + 1)
    before = parse_cursor(cursor)
    if before is not None:
        query = query.where(Delivery.id < before)
    result = page(list(session.scalars(query)), limit=limit, id_of=lambda r: r.id)
    ids = [r.id for r in result["items"]]
    runs: dict[int, list[int]] = defaultdict(list)
    for link in session.scalars(select(DeliveryRun).where(DeliveryRun.delivery_id.in_(ids))):
        runs[link.delivery_id].append(link.run_id)
    names = {i.id: i.name for i in session.scalars(select(Integration))}
    result["items"] = [describe_delivery(r, names[r.integration_id], sorted(runs[r.id])) for r in result["items"]]
    return result
