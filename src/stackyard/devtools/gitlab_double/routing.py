"""The route table type: a method, a pattern over the raw path, and a handler."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .api import Answer, Context

Handler = Callable[[Context], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, template: str, handler: Handler) -> Route:
    """template uses {name} segments matched on the still-encoded path, so %2F stays in one segment."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts)
    )
    return Route(method, re.compile(f"^/api/v4{regex}$"), handler)
