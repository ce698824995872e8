"""The webhook endpoint: every real fixture accepted, bad secrets refused, redeliveries deduplicated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from stackyard.bootstrap import Platform
from stackyard.devtools.sender import event_header_for
from stackyard.storage.tables import Delivery

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "gitlab-webhooks"
FIXTURE_FILES = sorted(FIXTURES.rglob("*.json"))


def test_fixture_folder_found() -> None:
    assert len(FIXTURE_FILES) >= 30, f"fixtures missing at {FIXTURES}"


@pytest.fixture
def secret(client: TestClient, admin: dict[str, str]) -> str:
    body = {"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com", "token": "glpat-x"}
    answer: str = client.post("/api/v1/integrations", headers=admin, json=body).json()["webhook_secret"]
    return answer


def deliveries(platform: Platform) -> int:
    with platform.sessions() as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def post(client: TestClient, body: bytes, *, token: str | None, event: str = "Push Hook",
         key: str | None = None) -> int:
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": event}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/webhooks/gitlab/gl", content=body, headers=headers).status_code


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_is_acknowledged(client: TestClient, secret: str, platform: Platform, fixture: Path) -> None:
    payload = json.loads(fixture.read_text())
    status = post(client, fixture.read_bytes(), token=secret, event=event_header_for(payload), key=fixture.name)
    assert status == 202
    assert deliveries(platform) == 1


def test_wrong_or_missing_token_is_401_and_nothing_kept(client: TestClient, secret: str, platform: Platform) -> None:
    assert post(client, b"{}", token="nope") == 401
    assert post(client, b"{}", token=None) == 401
    assert post(client, b"{}", token=secret[:-1]) == 401
    assert deliveries(platform) == 0


def test_same_delivery_five_times_is_kept_once(client: TestClient, secret: str, platform: Platform) -> None:
    body = (FIXTURES / "drone-go-scm" / "push_create_branch.json").read_bytes()
    statuses = [post(client, body, token=secret, key="3f1c-resend") for _ in range(5)]
    assert statuses == [202, 200, 200, 200, 200]
    # Older GitLab sends no Idempotency-Key: the same body again is the same delivery.
    assert [post(client, body, token=secret) for _ in range(2)] == [202, 200]
    assert deliveries(platform) == 2


def test_unknown_integration_404(client: TestClient) -> None:
    response = client.post("/webhooks/gitlab/nope", content=b"{}", headers={"X-Gitlab-Token": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\"text\"", b"", b"\xff\xfe"])
def test_body_not_a_json_object_is_400(client: TestClient, secret: str, platform: Platform, body: bytes) -> None:
    assert post(client, body, token=secret) == 400
    assert deliveries(platform) == 0


def test_body_over_the_limit_is_413(client: TestClient, secret: str, platform: Platform) -> None:
    limit = platform.settings.webhook_max_body
    body = b'{"a": "' + b"x" * limit + b'"}'
    assert post(client, body, token=secret) == 413
    assert deliveries(platform) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=300) | st.text(max_size=200).map(str.encode),
    headers=st.dictionaries(
        st.sampled_from(["X-Gitlab-Token", "X-Gitlab-Event", "Idempotency-Key", "Content-Type", "Content-Length",
                         "webhook-signature", "X-Anything"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    ),
)
def test_arbitrary_input_never_5xx(client: TestClient, secret: str, body: bytes, headers: dict[str, str]) -> None:
    headers = {k: v for k, v in headers.items() if k != "Content-Length" or v.isdigit()}
    if "X-Gitlab-Token" in headers and headers["X-Gitlab-Token"] == "use-secret":
        headers["X-Gitlab-Token"] = secret
    response = client.post("/webhooks/gitlab/gl", content=body, headers=headers)
    assert response.status_code < 500


def test_rotated_secret_is_accepted_at_once(client: TestClient, secret: str, admin: dict[str, str]) -> None:
    assert post(client, b'{"a": 1}', token=secret) == 202
    rotated = client.post("/api/v1/integrations/gl/rotate-secret", headers=admin).json()["webhook_secret"]
    assert post(client, b'{"a": 2}', token=rotated) == 202


def test_integration_created_after_a_404_is_found(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/webhooks/gitlab/later", content=b"{}", headers={"X-Gitlab-Token": "x"}).status_code == 404
    body = {"kind": "gitlab", "name": "later", "api_url": "https://gitlab.example.com", "token": "glpat-x"}
    created = client.post("/api/v1/integrations", headers=admin, json=body).json()["webhook_secret"]
    response = client.post("/webhooks/gitlab/later", content=b"{}", headers={"X-Gitlab-Token": created})
    assert response.status_code == 202


def test_deliveries_list_pages_newest_first(client: TestClient, secret: str, admin: dict[str, str]) -> None:
    for n in range(3):
        assert post(client, f'{{"n": {n}}}'.encode(), token=secret) == 202
    first = client.get("/api/v1/deliveries?limit=2", headers=admin).json()
    assert [d["id"] for d in first["items"]] == [3, 2]
    second = client.get(f"/api/v1/deliveries?limit=2&cursor={first['next']}", headers=admin).json()
    assert [d["id"] for d in second["items"]] == [1]
    assert second["next"] is None
