"""The platform's HTTP surface: health, readiness, metrics, API authentication, JSON errors."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_queue(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "queue": "ok"}


def test_api_without_token_is_401_json(client: TestClient) -> None:
    response = client.get("/api/v1/stacks")
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response.headers["www-authenticate"] == "Bearer"


def test_api_with_wrong_token_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/stacks", headers={"Authorization": "Bearer sy_nope"})
    assert response.status_code == 401


def test_api_with_token_lists_stacks(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/api/v1/stacks", headers=admin)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next": None}


def test_reader_may_read_but_not_write(client: TestClient, reader: dict[str, str]) -> None:
    assert client.get("/api/v1/stacks", headers=reader).status_code == 200
    response = client.post(
        "/api/v1/integrations",
        headers=reader,
        json={"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com", "token": "x"},
    )
    assert response.status_code == 403
    assert client.get("/api/v1/integrations", headers=reader).json()["items"] == []


def test_bad_limit_is_422_json(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/api/v1/stacks?limit=501", headers=admin)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_bad_cursor_is_400(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/api/v1/stacks?cursor=abc", headers=admin)
    assert response.status_code == 400


def test_unknown_path_is_json_404(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_metrics_count_requests(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'stackyard_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "stackyard_queue_depth" in body
    assert "stackyard_http_request_duration_seconds_bucket" in body


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/v1/stacks" in client.get("/openapi.json").json()["paths"]
