"""A delivery committed but never queued (crash, queue down) is still processed by the sweeper."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.services.sweep import requeue_stale_deliveries
from stackyard.storage.tables import Delivery, Integration
from support.queue import drain


def test_stale_received_delivery_is_processed(platform: Platform) -> None:
    with platform.sessions.begin() as session:
        integration = Integration(name="gl", api_url="https://gitlab.example.com",
                                  token_encrypted=platform.box.encrypt("t"),
                                  webhook_secret_encrypted=platform.box.encrypt("s"))
        session.add(integration)
        session.flush()
        # As if the process died right after the commit and before the enqueue.
        session.add(Delivery(integration_id=integration.id, event="Pipeline Hook", idempotency_key="k",
                             body=b'{"object_kind": "pipeline"}'))
    assert drain(platform) == 0
    assert requeue_stale_deliveries(platform, older_than=timedelta(0)) != []
    drain(platform)
    with platform.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.state == "processed"
    assert delivery.outcome == "pipeline events are not acted on"
    assert requeue_stale_deliveries(platform, older_than=timedelta(0)) == []
