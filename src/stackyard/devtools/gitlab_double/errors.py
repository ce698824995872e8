"""The one exception the double raises to answer an API request with a GitLab error body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """An HTTP error answer; body is the exact JSON (or text) GitLab sends (GITLAB.md C0)."""

    def __init__(
        self, status: int, body: Any, *, headers: Mapping[str, str] | None = None, text: bool = False
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.text = text


def not_found(thing: str) -> ApiError:
    return ApiError(404, {"message": f"404 {thing} Not Found"})


def bad_request(error: str) -> ApiError:
    """A Grape parameter error: {"error": "..."} (GITLAB.md C0)."""
    return ApiError(400, {"error": error})


def invalid(errors: Mapping[str, list[str]]) -> ApiError:
    """A model validation error: {"message": {attr: [msgs]}} (GITLAB.md C0)."""
    return ApiError(400, {"message": dict(errors)})


FORBIDDEN = {"message": "403 Forbidden"}
