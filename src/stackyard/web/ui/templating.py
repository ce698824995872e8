"""Rendering pages: one autoescaping Jinja2 environment and the headers every page carries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from stackyard.web.ui.viewer import CSRF_FIELD, Viewer

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Pages load only their own CSS and JS: no inline script, so injected markup cannot run code.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages can show the webhook secret and are per-person: never kept by shared caches or history.
    "Cache-Control": "no-store",
}

# State words always appear as text; the tone only picks a colour beside them.
STATE_TONES = {
    "queued": "wait", "preparing": "busy", "planning": "busy", "unconfirmed": "attention",
    "confirmed": "busy", "applying": "busy", "finished": "ok", "failed": "bad",
    "canceled": "off", "discarded": "off",
    # GitLab updates (the feedback outbox); "failed" is shared with runs.
    "pending": "wait", "sending": "busy", "sent": "ok", "skipped": "off",
}


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "\u2013"


def short_sha(value: str | None) -> str:
    return (value or "")[:8]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["short_sha"] = short_sha
    env.globals["state_tone"] = lambda state: STATE_TONES.get(state, "off")
    env.globals["csrf_field"] = CSRF_FIELD
    return env


templates = _environment()


def render(
    request: Request, template: str, *, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("error", None)
    body = templates.get_template(template).render(request=request, viewer=viewer, **context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def not_found(request: Request, viewer: Viewer | None, *, what: str, name: str) -> HTMLResponse:
    return render(request, "not_found.html", viewer=viewer, status_code=404, what=what, name=name)


def forbidden(request: Request, viewer: Viewer | None, *, reason: str) -> HTMLResponse:
    return render(request, "forbidden.html", viewer=viewer, status_code=403, reason=reason)
