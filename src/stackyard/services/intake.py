"""Accepting a webhook delivery: check the secret, keep it durably, then hand it to the worker."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from stackyard.storage.tables import Delivery

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

# Headers worth keeping with the delivery; X-Gitlab-Token is never stored.
KEPT_HEADERS = (
    "x-gitlab-event", "x-gitlab-instance", "x-gitlab-webhook-uuid", "x-gitlab-event-uuid",
    "idempotency-key", "user-agent", "webhook-id", "webhook-timestamp",
)


@dataclass(frozen=True)
class Accepted:
    delivery_id: int
    new: bool


def delivery_key(headers: dict[str, str], body: bytes) -> str:
    """GitLab's Idempotency-Key survives resends (GITLAB.md A2); older GitLab sends none, so the body is the key.

    X-Gitlab-Event-UUID is a recursion marker, not a delivery key (GITLAB.md A2).
    """
    key = headers.get("idempotency-key", "").strip()
    if key and len(key) <= 100:
        return key
    return "sha256:" + hashlib.sha256(body).hexdigest()


def store_delivery(platform: Platform, *, integration_id: int, headers: dict[str, str], body: bytes) -> Accepted:
    """Commits before the caller answers 202: an acknowledged delivery is never lost."""
    key = delivery_key(headers, body)
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    with platform.sessions() as session:
        existing = session.scalar(
            select(Delivery.id).where(Delivery.integration_id == integration_id, Delivery.idempotency_key == key)
        )
        if existing is not None:
            return Accepted(existing, new=False)
        row = Delivery(
            integration_id=integration_id,
            event=headers.get("x-gitlab-event", "")[:100],
            idempotency_key=key,
            headers=kept,
            body=body,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            # Another process stored the same delivery between our check and insert.
            session.rollback()
            again = session.scalar(
                select(Delivery.id).where(Delivery.integration_id == integration_id, Delivery.idempotency_key == key)
            )
            assert again is not None
            return Accepted(again, new=False)
    platform.tasks.process_deliveries([row.id])
    return Accepted(row.id, new=True)
