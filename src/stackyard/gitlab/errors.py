"""Turn python-gitlab and requests exceptions into the core forge error tree, in one place."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import gitlab.exceptions
import requests

from stackyard.core.ports import (
    ForgeAuthError,
    ForgeError,
    ForgeRateLimited,
    ForgeRefused,
    ForgeUnavailable,
)

# Statuses that retrying later may fix. 409 is GitLab's per-commit lock for statuses (GITLAB.md C1
# step 1) and the "Resource lock" conflict python-gitlab already retries (D3).
_TRANSIENT = frozenset({408, 409, 500, 502, 503, 504, *range(520, 531)})


def error_detail(error_message: Any) -> str:
    """GitLab's message as one readable line; it may be a dict of field errors (GITLAB.md C0, D4)."""
    if isinstance(error_message, bytes):
        error_message = error_message.decode("utf-8", "replace")
    if isinstance(error_message, Mapping):
        if not error_message:
            return "no reason given"
        parts = []
        for key, value in error_message.items():
            text = "; ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            parts.append(f"{key}: {text}")
        return ", ".join(parts)
    text = " ".join(str(error_message).split())
    return text or "no reason given"


def classify(exc: BaseException, *, doing: str = "answer") -> ForgeError:
    """The one mapping from what python-gitlab raises to what a service can act on."""
    if isinstance(exc, ForgeError):
        return exc
    # 401 raises GitlabAuthenticationError, which is not a GitlabHttpError (GITLAB.md D4).
    if isinstance(exc, gitlab.exceptions.GitlabAuthenticationError):
        return ForgeAuthError("GitLab rejected the token (401): it was revoked or has expired", 401)
    if isinstance(exc, gitlab.exceptions.RedirectError):
        # A redirect on POST/PUT means a wrong API URL (http vs https, missing /api/v4?) (D1).
        return ForgeRefused(f"GitLab redirected the request to {doing}: check the API URL ({exc})")
    if isinstance(exc, gitlab.exceptions.GitlabParsingError):
        return ForgeUnavailable(f"GitLab's answer could not be read while trying to {doing}")
    if isinstance(exc, gitlab.exceptions.GitlabError):
        status = exc.response_code
        detail = error_detail(exc.error_message)
        if status == 429:
            return ForgeRateLimited(f"GitLab is rate limiting requests to {doing}: {detail}", 429)
        if status is None or status in _TRANSIENT or status >= 500:
            return ForgeUnavailable(f"GitLab could not {doing} ({status}): {detail}", status)
        return ForgeRefused(f"GitLab refused to {doing} ({status}): {detail}", status)
    if isinstance(exc, requests.Timeout):
        return ForgeUnavailable(f"GitLab did not answer in time to {doing}")
    if isinstance(exc, requests.RequestException):
        return ForgeUnavailable(f"could not reach GitLab to {doing}: {type(exc).__name__}")
    return ForgeUnavailable(f"unexpected error trying to {doing}: {exc!r}")


@contextmanager
def translated(doing: str) -> Iterator[None]:
    """Run python-gitlab calls so only core ForgeErrors leave the adapter."""
    try:
        yield
    except (gitlab.exceptions.GitlabError, requests.RequestException) as exc:
        raise classify(exc, doing=doing) from exc
