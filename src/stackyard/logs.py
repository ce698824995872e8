"""Structured logs (JSON when not a TTY) that never print tokens or secrets."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SENSITIVE_KEY = re.compile(r"token|secret|password|authorization|private|cookie|key$", re.IGNORECASE)
_SENSITIVE_VALUE = re.compile(r"(glpat-|gloas-|glptt-|sy_|whsec_)[A-Za-z0-9_\-+/=]+")


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values under sensitive keys and token-shaped strings anywhere, whatever the caller logged."""
    for key, value in list(event.items()):
        if _SENSITIVE_KEY.search(key) and key not in {"event", "idempotency_key"}:
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = _SENSITIVE_VALUE.sub(r"\1***", value)
    return event


class _CurrentStderr:
    """Writes to whatever sys.stderr is now, so a replaced stream (tests, CLI runners) is never stale."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, level: str = "INFO", fmt: str = "auto") -> None:
    json_output = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Libraries log through the standard library (Huey, uvicorn, python-gitlab): their lines get the same
    # format as ours, and the same redaction, so no token slips out through someone else's message.
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
        )
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Alembic narrates every migration step at INFO; a person running `token create` wants the token.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Huey announces every task it runs and every minute's sweep; our own lines say what the work did.
    # Its consumer's start-up lines (threads, queue) stay.
    logging.getLogger("huey").setLevel(logging.WARNING)
    logging.getLogger("huey.consumer").setLevel(level.upper())
    logging.getLogger("huey.consumer.Scheduler").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
