"""Standard Webhooks signatures at the webhook endpoint: GitLab-signed deliveries in, forgeries and replays out."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stackyard.bootstrap import Platform
from stackyard.devtools import sender
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.storage.tables import Delivery, ManagedHook

SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = json.dumps({"object_kind": "push", "ref": "refs/heads/main"}).encode()
GITLAB_TOKEN = "glpat-signing"


def deliveries(platform: Platform) -> int:
    with platform.sessions() as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def create(client: TestClient, admin: dict[str, str], **extra: str) -> dict[str, str]:
    body = {"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com", "token": "glpat-x", **extra}
    response = client.post("/api/v1/integrations", headers=admin, json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, str] = response.json()
    return answer


def send(client: TestClient, *, token: str, signing: str | None, key: str, body: bytes = BODY,
         timestamp: int | None = None) -> tuple[int, str]:
    headers = sender.build_headers(body, event="Push Hook", token=token, idempotency_key=key, signing_token=signing,
                                   timestamp=timestamp)
    response = client.post("/webhooks/gitlab/gl", content=body, headers=headers)
    return response.status_code, response.text


def test_signed_delivery_accepted_forged_and_replayed_refused(client: TestClient, admin: dict[str, str],
                                                              platform: Platform) -> None:
    secret = create(client, admin, signing_token=SIGNING)["webhook_secret"]
    assert send(client, token=secret, signing=SIGNING, key="a")[0] == 202
    status, text = send(client, token=secret, signing=OTHER, key="b")
    assert (status, "webhook-signature" in text) == (401, True)
    stale = int(time.time()) - platform.settings.webhook_signature_tolerance - 60
    status, text = send(client, token=secret, signing=SIGNING, key="c", timestamp=stale)
    assert (status, "webhook-timestamp" in text) == (401, True)
    # The right signature does not make up for a wrong X-Gitlab-Token: the token stays required.
    assert send(client, token="wrong", signing=SIGNING, key="d")[0] == 401
    assert deliveries(platform) == 1


def test_body_changed_after_signing_is_refused(client: TestClient, admin: dict[str, str], platform: Platform) -> None:
    secret = create(client, admin, signing_token=SIGNING)["webhook_secret"]
    headers = sender.build_headers(BODY, event="Push Hook", token=secret, idempotency_key="k", signing_token=SIGNING)
    tampered = BODY.replace(b"main", b"prod")
    assert client.post("/webhooks/gitlab/gl", content=tampered, headers=headers).status_code == 401
    partial = {k: v for k, v in headers.items() if k != "webhook-timestamp"}
    assert client.post("/webhooks/gitlab/gl", content=BODY, headers=partial).status_code == 401
    assert deliveries(platform) == 0


def test_unsigned_delivery_still_accepted_with_a_signing_token_set(client: TestClient, admin: dict[str, str]) -> None:
    """GitLab before 19.0 (or with the feature flag off) ignores signing tokens and never signs (A4)."""
    secret = create(client, admin, signing_token=SIGNING)["webhook_secret"]
    assert send(client, token=secret, signing=None, key="a")[0] == 202


def test_signature_without_a_known_signing_token_is_accepted_on_the_token(client: TestClient, admin: dict[str, str],
                                                                          platform: Platform) -> None:
    secret = create(client, admin)["webhook_secret"]
    assert send(client, token=secret, signing=SIGNING, key="a")[0] == 202
    assert send(client, token="wrong", signing=SIGNING, key="b")[0] == 401
    assert deliveries(platform) == 1


def test_signing_token_set_later_is_checked_at_once(client: TestClient, admin: dict[str, str]) -> None:
    secret = create(client, admin, signing_token=SIGNING)["webhook_secret"]
    assert send(client, token=secret, signing=SIGNING, key="a")[0] == 202
    assert client.patch("/api/v1/integrations/gl", headers=admin, json={"signing_token": OTHER}).status_code == 200
    assert send(client, token=secret, signing=OTHER, key="b")[0] == 202
    assert send(client, token=secret, signing=SIGNING, key="c")[0] == 401


def test_signing_token_is_for_admins_only_and_validated(client: TestClient, admin: dict[str, str],
                                                        reader: dict[str, str]) -> None:
    created = create(client, admin, signing_token=SIGNING)
    assert created["signing_token"] == SIGNING
    as_reader = client.get("/api/v1/integrations/gl", headers=reader).json()
    assert "signing_token" not in as_reader and as_reader["signing_token_set"] is True
    assert SIGNING not in json.dumps(client.get("/api/v1/integrations", headers=reader).json())
    bad = client.patch("/api/v1/integrations/gl", headers=admin, json={"signing_token": "not-a-token"})
    assert bad.status_code == 400 and "whsec_" in bad.json()["detail"]
    assert client.patch("/api/v1/integrations/gl", headers=reader, json={"signing_token": None}).status_code == 403
    removed = client.patch("/api/v1/integrations/gl", headers=admin, json={"signing_token": None}).json()
    assert (removed["signing_token"], removed["signing_token_set"]) == (None, False)
    rotated = client.post("/api/v1/integrations/gl/rotate-signing-token", headers=admin).json()["signing_token"]
    assert rotated.startswith("whsec_") and len(base64.b64decode(rotated.removeprefix("whsec_"))) == 32


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    double = GitLabDouble()
    double.add_user(username="stackyard-bot", token=GITLAB_TOKEN, scopes=("api",), expires_at=None)
    double.add_project(path="infra/live", default_branch="main", files={"main.tf": "# main\n"})
    with serve_double(double) as base_url:
        yield double, base_url


def test_installed_hook_gets_its_own_signing_token_and_its_deliveries_verify(
    client: TestClient, admin: dict[str, str], platform: Platform, gitlab: tuple[GitLabDouble, str]
) -> None:
    double, base_url = gitlab
    body = {"kind": "gitlab", "name": "gl", "api_url": base_url, "token": GITLAB_TOKEN}
    assert client.post("/api/v1/integrations", headers=admin, json=body).status_code == 201
    stack = {"name": "live", "integration": "gl", "repository": "infra/live", "vendor": "commands",
             "commands": {"plan": ["true"]}}
    assert client.post("/api/v1/stacks", headers=admin, json=stack).status_code == 201
    (hook,) = double.hook_rows.values()
    with platform.sessions() as session:
        managed = session.scalars(select(ManagedHook)).one()
        stored = platform.box.decrypt(managed.signing_secret_encrypted or b"")
    assert hook.signing_token == stored and stored.startswith("whsec_")
    assert double.hooks("infra/live")[0]["signing_token_present"] is True
    double.push("infra/live", branch="main", files={"main.tf": "# changed\n"}, deliver=True)
    (delivery,) = double.deliveries
    assert "webhook-signature" in delivery.headers
    assert client.post("/webhooks/gitlab/gl", content=delivery.body, headers=delivery.headers).status_code == 202
    forged = delivery.body.replace(b"infra/live", b"infra/dead")
    headers = {**delivery.headers, "Idempotency-Key": "other"}
    assert client.post("/webhooks/gitlab/gl", content=forged, headers=headers).status_code == 401
    shown = client.get("/api/v1/integrations/gl", headers=admin).json()
    assert shown["hooks"][0]["signed"] is True
    assert stored not in json.dumps(shown)
