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
