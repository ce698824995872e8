"""Signing in and out of the web UI: redirects to /login and back, the cookie, CSRF on the forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform, create_app, create_platform
from stackyard.services.tokens import close_web_session, create_token
from stackyard.settings import Settings
from stackyard.storage.migrate import upgrade
from stackyard.storage.tables import ApiToken, WebSession, utcnow
from stackyard.web.ui.links import safe_next
from support.ui_rows import csrf_of, sign_in


@pytest.mark.parametrize("path", ["/", "/runs/12", "/stacks/prod", "/deliveries", "/settings/integrations"])
def test_a_stranger_is_sent_to_login_and_told_where_to_come_back(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == ("/login" if path == "/" else f"/login?next={path}")


def test_the_query_string_survives_the_trip_to_login(client: TestClient) -> None:
    answer = client.get("/stacks/prod?cursor=40", follow_redirects=False)
    assert answer.headers["location"] == "/login?next=/stacks/prod%3Fcursor%3D40"


def test_signing_in_returns_to_the_page_asked_for(client: TestClient, admin_token: str) -> None:
    answer = sign_in(client, admin_token, next_path="/runs/12")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs/12"
    # The run does not exist: the page says so, which proves the visitor got past the sign-in.
    page = client.get("/runs/12")
    assert page.status_code == 404
    assert "There is no run" in page.text


def test_the_session_cookie_is_httponly_lax_and_not_secure_on_http(client: TestClient, admin_token: str) -> None:
    answer = sign_in(client, admin_token)
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("stackyard_session="))
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes
    assert "max-age=43200" in attributes


def test_the_session_cookie_is_secure_when_the_public_url_is_https(tmp_path: Path) -> None:
    platform = create_platform(Settings(data_dir=tmp_path / "data", public_url="https://stackyard.example.com"))
    upgrade(platform.engine)
    token = create_token(platform.sessions, name="me", role="admin")
    with TestClient(create_app(platform), base_url="https://stackyard.example.com") as client:
        answer = sign_in(client, token)
    platform.engine.dispose()
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("stackyard_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_wrong_token_shows_the_form_again(client: TestClient) -> None:
    answer = sign_in(client, "sy_not-a-token")
    assert answer.status_code == 401
    assert "That token is not valid" in answer.text
    assert 'name="token"' in answer.text
    assert "stackyard_session" not in client.cookies


def test_an_empty_token_is_refused(client: TestClient) -> None:
    answer = sign_in(client, "   ")
    assert answer.status_code == 400
    assert "Enter an API token" in answer.text


def test_the_login_form_needs_its_csrf_token(client: TestClient, admin_token: str) -> None:
    client.get("/login")
    answer = client.post("/login", data={"token": admin_token, "csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403
    assert "stackyard_session" not in client.cookies


def test_a_login_post_from_another_site_is_refused(client: TestClient, admin_token: str) -> None:
    form = client.get("/login")
    answer = client.post("/login", data={"token": admin_token, "csrf_token": csrf_of(form.text)},
                         headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert answer.status_code == 403
    assert "stackyard_session" not in client.cookies


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/evil.example", "javascript:alert(1)",
     "evil.example", "/ok\r\nSet-Cookie: x=y", ""],
)
def test_next_never_leaves_the_site(client: TestClient, admin_token: str, target: str) -> None:
    answer = sign_in(client, admin_token, next_path=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/runs/5", "/runs/5"), ("/stacks/a?cursor=3", "/stacks/a?cursor=3"), ("//x", "/"), ("/\\x", "/"),
     ("https://x/", "/"), ("/x\x00", "/"), (None, "/"), ("/" + "a" * 3000, "/")],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_signed_in_visitor_skips_the_login_form(client: TestClient, admin_token: str) -> None:
    sign_in(client, admin_token)
    answer = client.get("/login?next=/deliveries", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/deliveries"


def test_signing_out_ends_the_session_for_good(client: TestClient, platform: Platform, admin_token: str) -> None:
    sign_in(client, admin_token)
    session_id = client.cookies["stackyard_session"]
    home = client.get("/")
    answer = client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    # A copy of the old cookie opens nothing any more.
    client.cookies.set("stackyard_session", session_id)
    assert client.get("/", follow_redirects=False).status_code == 303
    with platform.sessions() as session:
        assert session.query(WebSession).count() == 0


def test_signing_out_needs_the_csrf_token(client: TestClient, admin_token: str) -> None:
    sign_in(client, admin_token)
    answer = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200


def test_a_revoked_token_ends_its_sessions(client: TestClient, platform: Platform, admin_token: str) -> None:
    sign_in(client, admin_token)
    with platform.sessions.begin() as session:
        for token in session.query(ApiToken):
            token.revoked_at = utcnow()
    answer = client.get("/stacks/prod", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/stacks/prod"


def test_an_expired_session_asks_to_sign_in_again(client: TestClient, platform: Platform, admin_token: str) -> None:
    sign_in(client, admin_token)
    with platform.sessions.begin() as session:
        for row in session.query(WebSession):
            row.expires_at = utcnow()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_signing_in_clears_expired_sessions(client: TestClient, platform: Platform, admin_token: str) -> None:
    sign_in(client, admin_token)
    stale = client.cookies["stackyard_session"]
    with platform.sessions.begin() as session:
        for row in session.query(WebSession):
            row.expires_at = utcnow()
    client.cookies.clear()
    sign_in(client, admin_token)
    with platform.sessions() as session:
        assert session.query(WebSession).count() == 1
    close_web_session(platform.sessions, stale)  # already gone: closing twice is harmless


def test_the_session_cookie_lets_the_page_script_read_the_log_api(client: TestClient, admin_token: str) -> None:
    sign_in(client, admin_token)
    assert client.get("/api/v1/stacks").status_code == 200


def test_the_session_cookie_reads_the_api_but_never_writes_through_it(
    client: TestClient, admin_token: str
) -> None:
    sign_in(client, admin_token)
    assert client.get("/api/v1/runs").status_code == 200
    # API writes carry no CSRF token, so a cookie alone must not make them (only a bearer token does).
    refused = client.post("/api/v1/integrations/gl/rotate-secret")
    assert refused.status_code == 401
    assert client.post("/api/v1/integrations/gl/rotate-secret",
                       headers={"Authorization": f"Bearer {admin_token}"}).status_code == 404
