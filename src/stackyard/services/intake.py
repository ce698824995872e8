"""Keeping webhook deliveries durably, many per transaction, then handing them to the worker in one message."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

import orjson
from sqlalchemy import PoolProxiedConnection
from sqlalchemy.engine.interfaces import DBAPICursor

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


class Incoming(NamedTuple):
    """A delivery whose token (and signature) has been checked and whose body is a JSON object.

    NamedTuples rather than frozen dataclasses: one of each per webhook, and a frozen dataclass costs
    a microsecond more to build.
    """

    integration_id: int
    headers: dict[str, str]
    body: bytes


class Accepted(NamedTuple):
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


# Written by hand because these statements are the whole cost of the webhook hot path. Through SQLAlchemy's
# execution layer (pool checkout, events, transaction objects) a batch cost ~0.15 ms more CPU than the
# rows themselves (README, "Benchmarks"), so the store keeps one DBAPI connection of its own and speaks
# plain SQL on it. The timestamp still goes through SQLAlchemy's own bind processor and the headers are
# JSON text, so rows read back exactly as if the ORM had written them. ON CONFLICT DO NOTHING (SQLite
# 3.24+, PostgreSQL 9.5+) skips keys stored before, or by another process at the same moment.
_COLUMNS = ("integration_id", "event", "idempotency_key", "headers", "body", "received_at", "state")
_RETURNING = "RETURNING id, integration_id, idempotency_key"
_CONFLICT = "ON CONFLICT (integration_id, idempotency_key) DO NOTHING"


class DeliveryStore:
    """Keeps deliveries durably, a batch per transaction; one per process, built from the platform.

    It holds one database connection for its whole life (the group-commit writer is its only caller,
    so the connection is never contended); `close()` gives it back.
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        dialect = platform.engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"webhook intake needs SQLite or PostgreSQL (ON CONFLICT, RETURNING), not {dialect.name}")
        self._marker = "?" if dialect.paramstyle == "qmark" else "%s"
        casts = {"headers": "::json"} if dialect.name == "postgresql" else {}
        self._row_sql = "(" + ", ".join(self._marker + casts.get(column, "") for column in _COLUMNS) + ")"
        # pysqlite runs in autocommit mode here (storage/db.py): take the write lock up front, as the engine does.
        self._begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
        received_at = Delivery.__table__.c.received_at.type.dialect_impl(dialect)
        self._timestamp: Callable[[datetime], object] = received_at.bind_processor(dialect) or (lambda value: value)
        self._lock = threading.Lock()
        self._connection: PoolProxiedConnection | None = None

    def store(self, batch: Sequence[Incoming]) -> Stored:
        """Commits the whole batch in one transaction, so every caller may then answer 202.

        A key already stored (or repeated inside the batch) is not stored again: it answers with the
        existing delivery and `new=False`. Hand `new_ids` to `hand_over` after this returns.
        """
        keyed = [((item.integration_id, delivery_key(item.headers, item.body)), item) for item in batch]
        with self._lock:
            ids, new = self._transaction(keyed)
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

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    def _transaction(
        self, keyed: list[tuple[tuple[int, str], Incoming]], *, retry: bool = True
    ) -> tuple[dict[tuple[int, str], int], set[tuple[int, str]]]:
        connection = self._connection
        if connection is None:
            connection = self._connection = self._platform.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                if self._begin:
                    cursor.execute(self._begin)
                result = self._write(cursor, keyed)
            finally:
                cursor.close()
            connection.commit()
        except BaseException as exc:
            dialect = self._platform.engine.dialect
            lost = isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
                exc, connection.dbapi_connection, None
            )
            # Whatever state the connection is in now, the next batch starts on a new one.
            self._connection = None
            with contextlib.suppress(Exception):
                connection.rollback()
            connection.invalidate()
            if lost and retry:
                # The server dropped the connection while we held it (a restart, an idle timeout): once more
                # on a fresh one. Nothing of the failed attempt was committed.
                log.warning("database connection lost; retrying the batch on a new one", error=repr(exc))
                return self._transaction(keyed, retry=False)
            raise
        return result

    def _write(
        self, cursor: DBAPICursor, keyed: list[tuple[tuple[int, str], Incoming]]
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
            cursor.execute(
                f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) VALUES "
                + ", ".join([self._row_sql] * len(wanted))
                + f" {_CONFLICT} {_RETURNING}",
                params,
            )
            for delivery_id, integration_id, key in cursor.fetchall():
                ids[(integration_id, key)] = delivery_id
                new.add((integration_id, key))
        missing = wanted - new
        if missing:
            # Stored before (a resend), or by another process a moment ago: answer with that delivery.
            ids.update(self._existing(cursor, missing))
        return ids, new

    def _existing(self, cursor: DBAPICursor, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
        by_integration: dict[int, list[str]] = {}
        for integration_id, key in pairs:
            by_integration.setdefault(integration_id, []).append(key)
        found: dict[tuple[int, str], int] = {}
        for integration_id, keys in by_integration.items():
            for start in range(0, len(keys), KEY_CHUNK):
                chunk = keys[start : start + KEY_CHUNK]
                cursor.execute(
                    "SELECT id, idempotency_key FROM deliveries WHERE integration_id = "
                    f"{self._marker} AND idempotency_key IN ({', '.join([self._marker] * len(chunk))})",
                    [integration_id, *chunk],
                )
                for delivery_id, key in cursor.fetchall():
                    found[(integration_id, key)] = delivery_id
        return found
