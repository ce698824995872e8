"""Cursor pagination shared by every list endpoint: newest first, `limit` up to 500."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from stackyard.core.errors import Invalid

LimitParam = Annotated[int, Query(ge=1, le=500)]


def parse_cursor(cursor: str | None) -> int | None:
    """A cursor is the id below which the next page starts; opaque to clients."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise Invalid("cursor is not one this server gave out")
    return int(cursor)


def newest_first(
    session: Session, query: Select[Any], id_column: InstrumentedAttribute[int], *, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of rows and the cursor of the next; one extra row is fetched only to know whether it exists."""
    query = query.order_by(id_column.desc()).limit(limit + 1)
    before = parse_cursor(cursor)
    if before is not None:
        query = query.where(id_column < before)
    rows = list(session.scalars(query))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if has_more and rows else None)
