"""Logs never print tokens or secrets, whatever a caller passes in."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from stackyard.logs import configure_logging, get_logger


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging(level="INFO", fmt="json")
    yield
    structlog.reset_defaults()
    logging.basicConfig(force=True, handlers=[logging.NullHandler()])


def test_tokens_and_secret_keys_are_redacted(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    get_logger("t").info("calling GitLab with glpat-abcdefghijklmnop", token="sy_supersecret",
                         webhook_secret="hunter2", url="https://gitlab.example.com", note="whsec_QUJDREVG")
    err = capsys.readouterr().err
    assert "abcdefghijklmnop" not in err
    assert "sy_supersecret" not in err
    assert "hunter2" not in err
    assert "QUJDREVG" not in err
    assert "https://gitlab.example.com" in err


def test_library_log_lines_share_the_format_and_the_redaction(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Huey, uvicorn and python-gitlab log through the standard library, not structlog."""
    import json

    logging.getLogger("urllib3.connectionpool").warning("retrying with header PRIVATE-TOKEN glpat-abcdefghijklmnop")
    logging.getLogger("huey").info("Executing stackyard.worker.tasks.sweep")  # below huey's level: dropped
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines == [{
        "event": "retrying with header PRIVATE-TOKEN glpat-***",
        "logger": "urllib3.connectionpool",
        "level": "warning",
        "timestamp": lines[0]["timestamp"],
    }]
