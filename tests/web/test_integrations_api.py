"""Integrations over the API: the token is never returned, the secret only to admins."""

from __future__ import annotations

from fastapi.testclient import TestClient

BODY = {"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com/api/v4", "token": "glpat-secret"}


def test_create_returns_webhook_url_and_secret_never_token(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/api/v1/integrations", headers=admin, json=BODY)
    assert response.status_code == 201
    body = response.json()
    assert body["webhook_url"] == "http://127.0.0.1:8080/webhooks/gitlab/gl"
    assert body["api_url"] == "https://gitlab.example.com"
    assert len(body["webhook_secret"]) >= 32
    assert "glpat-secret" not in response.text


def test_secret_shown_to_admins_only(client: TestClient, admin: dict[str, str], reader: dict[str, str]) -> None:
    client.post("/api/v1/integrations", headers=admin, json=BODY)
    assert "webhook_secret" in client.get("/api/v1/integrations/gl", headers=admin).json()
    as_reader = client.get("/api/v1/integrations/gl", headers=reader)
    assert as_reader.status_code == 200
    assert "webhook_secret" not in as_reader.json()


def test_duplicate_name_is_409_and_bad_input_400(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/api/v1/integrations", headers=admin, json=BODY).status_code == 201
    assert client.post("/api/v1/integrations", headers=admin, json=BODY).status_code == 409
    bad_url = client.post("/api/v1/integrations", headers=admin, json={**BODY, "name": "x", "api_url": "ftp://x"})
    assert bad_url.status_code == 400
    bad_name = client.post("/api/v1/integrations", headers=admin, json={**BODY, "name": "a/b"})
    assert bad_name.status_code == 400
    assert [i["name"] for i in client.get("/api/v1/integrations", headers=admin).json()["items"]] == ["gl"]


def test_rotate_secret_changes_it(client: TestClient, admin: dict[str, str]) -> None:
    first = client.post("/api/v1/integrations", headers=admin, json=BODY).json()["webhook_secret"]
    second = client.post("/api/v1/integrations/gl/rotate-secret", headers=admin).json()["webhook_secret"]
    assert first != second
    assert client.get("/api/v1/integrations/gl", headers=admin).json()["webhook_secret"] == second


def test_delete_then_404(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/api/v1/integrations", headers=admin, json=BODY)
    assert client.delete("/api/v1/integrations/gl", headers=admin).status_code == 204
    assert client.get("/api/v1/integrations/gl", headers=admin).status_code == 404
