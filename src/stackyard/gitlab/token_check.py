"""Judge a GitLab access token from what GitLab says about it, in words a person can act on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from stackyard.core.ports import TokenCheck

# Statuses, notes, deployments, environments and hooks all need `api`; `read_api` is read-only
# (GITLAB.md C0 "Scopes").
REQUIRED_SCOPE = "api"
WARN_DAYS_BEFORE_EXPIRY = 30


def _in_days(days: int) -> str:
    if days == 0:
        return "today"
    return "in 1 day" if days == 1 else f"in {days} days"


def expiry_problem(expires_at: str | None, today: date) -> tuple[str | None, bool]:
    """A warning about the expiry date (or None), and whether the token has already expired."""
    if not expires_at:
        return None, False
    try:
        expires = date.fromisoformat(expires_at[:10])
    except ValueError:
        return f"GitLab reported an unreadable expiry date {expires_at!r}", False
    days = (expires - today).days
    # GitLab tokens stop working at the start of their expiry date (UTC).
    if days <= 0:
        return f"the token expired on {expires.isoformat()}", True
    if days <= WARN_DAYS_BEFORE_EXPIRY:
        return f"the token expires on {expires.isoformat()}, {_in_days(days)}", False
    return None, False


def judge_token(
    *,
    username: str | None,
    token: Mapping[str, Any] | None,
    today: date,
    token_unreadable: str | None = None,
) -> TokenCheck:
    """Combine GET /user and GET /personal_access_tokens/self into one verdict.

    `ok` means Stackyard can do its work with this token now; a coming expiry is listed as a
    problem but does not make it not ok, so a warning is not mistaken for an outage.
    """
    problems: list[str] = []
    scopes: tuple[str, ...] = ()
    expires_at: str | None = None
    usable = username is not None
    if token is None:
        if token_unreadable:
            problems.append(token_unreadable)
    else:
        raw_scopes = token.get("scopes") or ()
        scopes = tuple(str(s) for s in raw_scopes) if isinstance(raw_scopes, Sequence) else ()
        expires_at = str(token["expires_at"]) if token.get("expires_at") else None
        if token.get("revoked"):
            problems.append("the token was revoked")
            usable = False
        elif token.get("active") is False:
            problems.append("the token is no longer active")
            usable = False
        if REQUIRED_SCOPE not in scopes:
            problems.append(f"the token lacks the api scope (has: {', '.join(scopes) or 'no scopes'})")
            usable = False
        warning, expired = expiry_problem(expires_at, today)
        if warning:
            problems.append(warning)
        usable = usable and not expired
    return TokenCheck(
        ok=usable,
        user=username,
        scopes=scopes,
        expires_at=expires_at,
        problems=tuple(problems),
    )
