"""Cursor pagination shared by every list endpoint: newest first, `limit` up to 500."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from stackyard.core.errors import Invalid

LimitParam = Annotated[int, Query(ge=1, le=500)]


def parse_cursor(cursor: str | None) -> int | None:
    """A cursor is the id below which the next page starts; opaque to clients."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise Invalid("cursor is not one this server gave out")
    return int(cursor)


def page(items: list[Any], *, limit: int, id_of: Any) -> dict[str, Any]:
    """Callers fetch limit+1 rows; the extra one only tells whether there is a next page."""
    has_more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": str(id_of(items[-1])) if has_more and items else None}
