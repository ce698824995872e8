"""Keeping webhook deliveries durably, many per transaction, then handing them to the worker in one message."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import Connection, select

from stackyard.logs import get_logger
from stackyard.storage.tables import Delivery, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)

# Headers worth keeping with the delivery; X-Gitlab-Token is never stored.
KEPT_HEADERS = (
    "x-gitlab-event", "x-gitlab-instance", "x-gitlab-webhook-uuid", "x-gitlab-event-uuid",
    "idempotency-key", "user-agent", "webhook-id", "webhook-timestamp",
)
# Bounds the IN (...) list of the duplicate check.
KEY_CHUNK = 500
# Bounds one statement: 7 parameters a row stays far below SQLite's 32766-variable limit.
MAX_BATCH = 512


@dataclass(frozen=True)
class Incoming:
    """A delivery whose token (and signature) has been checked and whose body is a JSON object."""

    integration_id: int
    headers: dict[str, str]
    body: bytes


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


@dataclass(frozen=True)
class Stored:
    answers: list[Accepted]
    """One per item of the batch, in order."""
    new_ids: list[int]


# Written by hand because this one statement is the whole cost of the webhook hot path: through
# SQLAlchemy's execution layer it took ~0.5 ms of CPU per transaction, as much as ten rows take in SQLite
# (README, "Benchmarks"). The timestamp still goes through SQLAlchemy's own bind processor and the headers
# are JSON text, so rows read back exactly as if the ORM had written them. ON CONFLICT DO NOTHING
# (SQLite 3.24+, PostgreSQL 9.5+) skips keys stored before, or by another process at the same moment.
_COLUMNS = ("integration_id", "event", "idempotency_key", "headers", "body", "received_at", "state")
_RETURNING = "RETURNING id, integration_id, idempotency_key"
_CONFLICT = "ON CONFLICT (integration_id, idempotency_key) DO NOTHING"


class DeliveryStore:
    """Keeps deliveries durably, a batch per transaction; built once per process from the platform."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        dialect = platform.engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"webhook intake needs SQLite or PostgreSQL (ON CONFLICT, RETURNING), not {dialect.name}")
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        casts = {"headers": "::json"} if dialect.name == "postgresql" else {}
        self._row_sql = "(" + ", ".join(marker + casts.get(column, "") for column in _COLUMNS) + ")"
        received_at = Delivery.__table__.c.received_at.type.dialect_impl(dialect)
        self._timestamp = received_at.bind_processor(dialect) or (lambda value: value)

    def store(self, batch: Sequence[Incoming]) -> Stored:
        """Commits the whole batch in one transaction, so every caller may then answer 202.

        A key already stored (or repeated inside the batch) is not stored again: it answers with the
        existing delivery and `new=False`. Hand `new_ids` to `hand_over` after this returns.
        """
        keyed = [((item.integration_id, delivery_key(item.headers, item.body)), item) for item in batch]
        with self._platform.engine.begin() as connection:
            ids, new = self._write(connection, keyed)
        answers: list[Accepted] = []
        answered: set[tuple[int, str]] = set()
        for pair, _item in keyed:
            answers.append(Accepted(ids[pair], new=pair in new and pair not in answered))
            answered.add(pair)
        return Stored(answers, sorted(ids[pair] for pair in new))

    def hand_over(self, delivery_ids: list[int]) -> None:
        """One queue message for a whole batch. A message lost here (queue down, crash) is re-sent by the sweeper."""
        if not delivery_ids:
            return
        try:
            self._platform.tasks.process_deliveries(delivery_ids)
        except Exception as exc:  # the rows are committed; services/sweep.py enqueues them within a minute
            log.error("deliveries stored but not queued", count=len(delivery_ids), error=repr(exc))

    def _write(
        self, connection: Connection, keyed: list[tuple[tuple[int, str], Incoming]]
    ) -> tuple[dict[tuple[int, str], int], set[tuple[int, str]]]:
        """Inserts every key not stored yet in one statement; returns every key's id and the keys it inserted."""
        ids: dict[tuple[int, str], int] = {}
        wanted: set[tuple[int, str]] = set()
        params: list[object] = []
        now = self._timestamp(utcnow())
        for pair, item in keyed:
            if pair in wanted:
                continue
            wanted.add(pair)
            headers = item.headers
            kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
            params += (
                item.integration_id,
                headers.get("x-gitlab-event", "")[:100],
                pair[1],
                orjson.dumps(kept).decode(),
                item.body,
                now,
                "received",
            )
        new: set[tuple[int, str]] = set()
        if wanted:
            sql = (
                f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) VALUES "
                + ", ".join([self._row_sql] * len(wanted))
                + f" {_CONFLICT} {_RETURNING}"
            )
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, params)
                for delivery_id, integration_id, key in cursor.fetchall():
                    ids[(integration_id, key)] = delivery_id
                    new.add((integration_id, key))
            finally:
                cursor.close()
        missing = wanted - new
        if missing:
            # Stored before (a resend), or by another process a moment ago: answer with that delivery.
            ids.update(_existing(connection, missing))
        return ids, new


def _existing(connection: Connection, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    by_integration: dict[int, list[str]] = {}
    for integration_id, key in pairs:
        by_integration.setdefault(integration_id, []).append(key)
    found: dict[tuple[int, str], int] = {}
    for integration_id, keys in by_integration.items():
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            query = select(Delivery.id, Delivery.idempotency_key).where(
                Delivery.integration_id == integration_id, Delivery.idempotency_key.in_(chunk)
            )
            for delivery_id, key in connection.execute(query):
                found[(integration_id, key)] = delivery_id
    return found
