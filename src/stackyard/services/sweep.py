"""Periodic repair: work that was committed but never reached the queue is handed over again."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from stackyard.logs import get_logger
from stackyard.services.feedback_sender import send_due_feedback
from stackyard.storage.tables import Delivery, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)

# A delivery still "received" after this long lost its queue message (a crash between commit and enqueue,
# or the queue was down): processing is idempotent, so enqueueing it again is safe.
STALE_AFTER = timedelta(seconds=60)


def requeue_stale_deliveries(platform: Platform, *, older_than: timedelta = STALE_AFTER) -> list[int]:
    with platform.sessions() as session:
        ids = list(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.state == "received", Delivery.received_at < utcnow() - older_than)
                .order_by(Delivery.id)
                .limit(500)
            )
        )
    if ids:
        log.info("requeueing deliveries", count=len(ids))
        platform.tasks.process_deliveries(ids)
    return ids


def sweep(platform: Platform) -> None:
    """The once-a-minute repair pass: lost delivery messages, then runs whose worker died."""
    requeue_stale_deliveries(platform)
    send_due_feedback(platform)
