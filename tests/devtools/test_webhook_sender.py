"""The webhook sender: X-Gitlab-Event mapping for every fixture, headers, signing and its CLI."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from gitlab_double_shared import FIXTURES_DIR, Receiver

from stackyard.devtools import sender

# Fixtures live in a uniquely named module: a conftest.py would shadow other folders' conftest.
pytest_plugins = ("gitlab_double_fixtures",)

FIXTURES = sorted(FIXTURES_DIR.rglob("*.json"))


def _documented_event(fixture: Path) -> str:
    """The X-Gitlab-Event column of SOURCES.md for this file."""
    sources = (fixture.parents[1] / "SOURCES.md").read_text()
    relative = f"{fixture.parent.name}/{fixture.name}"
    for line in sources.splitlines():
        if line.startswith(f"| {relative} |"):
            return line.split("|")[2].split(" (")[0].strip()
    raise LookupError(relative)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_event_header_matches_the_documented_header(fixture: Path) -> None:
    try:
        documented = _documented_event(fixture)
    except LookupError:
        pytest.skip("not listed in SOURCES.md")
    assert sender.event_header_for(json.loads(fixture.read_text())) == documented


def test_confidential_note_and_unknown_kinds() -> None:
    assert sender.event_header_for({"object_kind": "note", "event_type": "confidential_note"}) == (
        "Confidential Note Hook"
    )
    with pytest.raises(ValueError):
        sender.event_header_for({"object_kind": "mystery"})


def test_deliver_sends_gitlab_headers(receiver: Receiver) -> None:
    key = "5a1c0de0-0000-4000-8000-000000000000"
    signing = "whsec_" + base64.b64encode(b"s" * 32).decode()
    response = sender.deliver(
        receiver.url, {"object_kind": "push"}, event="Push Hook", token="t\nok", idempotency_key=key,
        signing_token=signing,
    )
    assert response.status_code == 200
    headers = receiver.received[0].headers
    assert headers["x-gitlab-token"] == "tok"
    assert headers["idempotency-key"] == headers["webhook-id"] == key
    assert headers["content-type"] == "application/json"
    expected = sender.sign(
        receiver.received[0].body, signing_token=signing, webhook_id=key,
        timestamp=int(headers["webhook-timestamp"]),
    )
    assert headers["webhook-signature"] == expected


def test_cli_repeats_with_one_idempotency_key(receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    fixture = next(p for p in FIXTURES if p.name == "mr_open.json")
    code = sender.main([receiver.url, str(fixture), "--token", "secret", "--repeat", "2"])
    assert code == 0
    first, second = receiver.received
    assert first.headers["x-gitlab-event"] == "Merge Request Hook"
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == fixture.read_bytes()
    assert "-> 200" in capsys.readouterr().out
