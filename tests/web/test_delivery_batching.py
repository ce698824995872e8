"""Group commit: concurrent deliveries share one transaction and one queue message, duplicates create nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.services.intake import DeliveryStore, Incoming, Stored
from stackyard.services.integrations import create_integration
from stackyard.storage.tables import Delivery


def incoming(integration_id: int, key: str, n: int = 0) -> Incoming:
    headers = {"x-gitlab-event": "Push Hook", "idempotency-key": key, "x-gitlab-token": "secret",
               "user-agent": "GitLab/18.6.0"}
    return Incoming(integration_id, headers, f'{{"n": {n}}}'.encode())


def submit_all(platform: Platform, items: list[Incoming]) -> list[object]:
    from stackyard.web.delivery_batcher import DeliveryBatcher

    store = DeliveryStore(platform)
    batcher = DeliveryBatcher(store.store, store.hand_over)

    async def run() -> list[object]:
        return await asyncio.gather(*(batcher.submit(item) for item in items))

    try:
        return asyncio.run(run())
    finally:
        batcher.close()
        store.close()


def test_concurrent_deliveries_are_one_transaction_and_one_message(platform: Platform) -> None:
    gl = create_integration(platform, name="gl", kind="gitlab", api_url="https://gitlab.example.com", token="t")
    store = DeliveryStore(platform)
    store.store([incoming(gl.id, "seen-before")])
    store.close()
    items = [incoming(gl.id, f"k{n}", n) for n in range(20)]
    items += [incoming(gl.id, "k3"), incoming(gl.id, "seen-before")]
    answers = submit_all(platform, items)
    assert [a.new for a in answers] == [True] * 20 + [False, False]  # type: ignore[attr-defined]
    assert answers[20].delivery_id == answers[3].delivery_id  # type: ignore[attr-defined]
    with platform.sessions() as session:
        rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    assert [r.idempotency_key for r in rows] == ["seen-before"] + [f"k{n}" for n in range(20)]
    assert "x-gitlab-token" not in rows[1].headers and rows[1].headers["x-gitlab-event"] == "Push Hook"
    assert rows[1].body == b'{"n": 0}' and rows[1].state == "received" and rows[1].received_at.tzinfo is not None
    # One queue message for the whole batch, carrying the 20 new deliveries (not the duplicates).
    messages = [platform.huey.dequeue() for _ in range(platform.huey.pending_count())]
    assert len(messages) == 1
    assert sorted(messages[0].args[0]) == [r.id for r in rows[1:]]


def test_keys_from_two_integrations_do_not_collide(platform: Platform) -> None:
    one = create_integration(platform, name="one", kind="gitlab", api_url="https://a.example.com", token="t")
    two = create_integration(platform, name="two", kind="gitlab", api_url="https://b.example.com", token="t")
    store = DeliveryStore(platform)
    stored = store.store([incoming(one.id, "same"), incoming(two.id, "same")])
    store.close()
    assert [a.new for a in stored.answers] == [True, True]
    assert len(set(stored.new_ids)) == 2


def test_a_failing_store_fails_every_request_of_its_batch() -> None:
    from stackyard.web.delivery_batcher import DeliveryBatcher

    def broken(_batch: object) -> Stored:
        raise ConnectionError("database is down")

    handed: list[list[int]] = []
    batcher = DeliveryBatcher(broken, handed.append)

    async def run() -> list[object]:
        return await asyncio.gather(*(batcher.submit(incoming(1, f"k{n}")) for n in range(3)),
                                    return_exceptions=True)

    results = asyncio.run(run())
    batcher.close()
    assert all(isinstance(r, ConnectionError) for r in results)
    assert handed == []


def test_a_request_that_goes_away_still_has_its_delivery_kept_and_the_writer_goes_on(platform: Platform) -> None:
    """A cancelled request (GitLab hung up) must not stall the batch or lose the delivery; a later loop still works."""
    from stackyard.web.delivery_batcher import DeliveryBatcher

    gl = create_integration(platform, name="gl", kind="gitlab", api_url="https://gitlab.example.com", token="t")
    store = DeliveryStore(platform)
    batcher = DeliveryBatcher(store.store, store.hand_over)

    async def first() -> list[object]:
        gone = asyncio.ensure_future(batcher.submit(incoming(gl.id, "gone")))
        stays = asyncio.ensure_future(batcher.submit(incoming(gl.id, "stays")))
        await asyncio.sleep(0)  # both are handed over; now the client of the first one disconnects
        gone.cancel()
        return await asyncio.gather(gone, stays, return_exceptions=True)

    async def second() -> object:
        return await batcher.submit(incoming(gl.id, "next loop"))

    try:
        gone, stays = asyncio.run(first())
        later = asyncio.run(second())  # a new event loop, as a restarted test client would have
    finally:
        batcher.close()
        store.close()
    assert isinstance(gone, asyncio.CancelledError)
    assert stays.new and later.new  # type: ignore[attr-defined]
    with platform.sessions() as session:
        keys = list(session.scalars(select(Delivery.idempotency_key).order_by(Delivery.id)))
    assert keys == ["gone", "stays", "next loop"]
