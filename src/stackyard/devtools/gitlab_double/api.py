"""Per-request plumbing every route shares: parameters, the caller, pagination (GITLAB.md C0, C9)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .errors import ApiError, bad_request
from .records import Project, Token, User

if TYPE_CHECKING:
    from .double import GitLabDouble

UNAUTHORIZED = ApiError(401, {"message": "401 Unauthorized"})
MAX_PER_PAGE = 100


@dataclass
class Answer:
    """What a route returns: JSON (or raw bytes) plus status and extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    raw: bool = False


@dataclass
class Context:
    double: GitLabDouble
    method: str
    raw_path: str
    path_params: dict[str, str]
    params: dict[str, Any]
    query: dict[str, str]
    base_url: str
    """scheme://host the client used, for absolute Link headers (GITLAB.md C9)."""
    token: Token | None
    user: User | None
    event_uuid: str | None

    @property
    def caller(self) -> User:
        if self.user is None:
            raise UNAUTHORIZED
        return self.user

    def project(self) -> Project:
        return self.double.project(self.path_params["id"])

    def int_path(self, name: str, thing: str) -> int:
        value = self.path_params[name]
        if not value.isdigit():
            raise ApiError(404, {"message": f"404 {thing} Not Found"})
        return int(value)

    # parameters: JSON body, form body and query string all count (GITLAB.md C0) -------------
    def has(self, name: str) -> bool:
        return name in self.params and self.params[name] is not None

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        if not self.has(name):
            if required:
                raise bad_request(f"{name} is missing")
            return default
        value = self.params[name]
        return value if isinstance(value, str) else str(value)

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        if not self.has(name):
            return default
        value = self.params[name]
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in {"true", "1", "yes", "t"}:
            return True
        if lowered in {"false", "0", "no", "f", ""}:
            return False
        raise bad_request(f"{name} is invalid")

    def number(self, name: str) -> float | None:
        if not self.has(name):
            return None
        try:
            return float(self.params[name])
        except (TypeError, ValueError):
            raise bad_request(f"{name} is invalid") from None

    def integer(self, name: str) -> int | None:
        value = self.number(name)
        return None if value is None else int(value)

    def choice(self, name: str, allowed: Sequence[str], *, required: bool = False) -> str | None:
        value = self.text(name, required=required)
        if value is not None and value not in allowed:
            raise bad_request(f"{name} does not have a valid value")
        return value


def authenticate(
    double: GitLabDouble, headers: Mapping[str, str]
) -> tuple[Token | None, User | None]:
    """PRIVATE-TOKEN or Authorization: Bearer; expired or revoked tokens are 401 (GITLAB.md C0, C8)."""
    secret = headers.get("private-token")
    bearer = headers.get("authorization", "")
    if secret is None and bearer.lower().startswith("bearer "):
        secret = bearer[7:].strip()
    if secret is None:
        return None, None
    with double.lock:
        token = double.tokens.get(secret)
        if token is None or token.revoked:
            raise UNAUTHORIZED
        if token.expires_at is not None and date.fromisoformat(token.expires_at) <= date.fromtimestamp(
            double.clock()
        ):
            raise UNAUTHORIZED
        return token, double.users[token.user_id]


def require_scope(token: Token | None, *, write: bool, user_endpoint: bool) -> None:
    """api writes; read_api reads; read_user only reads /user (GITLAB.md C0 "Scopes")."""
    if token is None:
        raise UNAUTHORIZED
    scopes = set(token.scopes)
    if "api" in scopes:
        return
    if not write and ("read_api" in scopes or (user_endpoint and "read_user" in scopes)):
        return
    needed = "api" if write else "api read_api"
    raise ApiError(
        403,
        {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": needed,
        },
        headers={
            "WWW-Authenticate": (
                'Bearer realm="", error="insufficient_scope", error_description="The request requires '
                f'higher privileges than provided by the access token.", scope="{needed}"'
            )
        },
    )


def paginate(ctx: Context, items: Sequence[Any], render: Callable[[Any], Any] | None = None) -> Answer:
    """Offset pagination with x-* headers and an absolute Link header (GITLAB.md C9)."""
    try:
        page = max(1, int(ctx.query.get("page", "1")))
        per_page = int(ctx.query.get("per_page", "20"))
    except ValueError:
        raise bad_request("page is invalid") from None
    per_page = 20 if per_page < 1 else min(per_page, MAX_PER_PAGE)
    total = len(items)
    total_pages = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    body = [render(item) for item in chunk] if render else list(chunk)

    def link(target: int) -> str:
        query = {**ctx.query, "page": str(target), "per_page": str(per_page)}
        return f"{ctx.base_url}{ctx.raw_path}?{urlencode(query)}"

    links = []
    if page > 1:
        links.append(f'<{link(page - 1)}>; rel="prev"')
    if page < total_pages:
        links.append(f'<{link(page + 1)}>; rel="next"')
    links.append(f'<{link(1)}>; rel="first"')
    links.append(f'<{link(total_pages)}>; rel="last"')
    headers = {
        "x-page": str(page),
        "x-per-page": str(per_page),
        "x-next-page": str(page + 1) if page < total_pages else "",
        "x-prev-page": str(page - 1) if page > 1 else "",
        "x-total": str(total),
        "x-total-pages": str(total_pages),
        "link": ", ".join(links),
    }
    return Answer(body, headers=headers)


def sort_rows(ctx: Context, rows: list[Any], *, keys: Mapping[str, Callable[[Any], Any]],
              default_order: str, default_sort: str) -> list[Any]:
    order_by = ctx.text("order_by", default=default_order) or default_order
    if order_by not in keys:
        raise bad_request("order_by does not have a valid value")
    direction = ctx.choice("sort", ("asc", "desc")) or default_sort
    key = keys[order_by]
    return sorted(rows, key=lambda row: (key(row), row.id), reverse=direction == "desc")
