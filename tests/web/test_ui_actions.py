"""Admin actions from the pages: confirm, discard, cancel, trigger; and every way a post is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stackyard.bootstrap import Platform
from stackyard.devtools.gitlab_double import GitLabDouble, serve_double
from stackyard.storage.tables import Run
from support.ui_rows import add_integration, add_run, add_stack, csrf_of, run_state, signed_in_client

TOKEN = "glpat-uitoken"


@pytest.fixture
def prod(platform: Platform) -> int:
    return add_stack(platform, name="prod", integration_id=add_integration(platform))


def post_from_page(client: TestClient, page: str, action: str, **fields: str) -> object:
    """Posts a form the way the page's own button would: with the CSRF token the page carries."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)


@pytest.mark.parametrize(("state", "action", "after"), [
    ("unconfirmed", "confirm", "confirmed"),
    ("unconfirmed", "discard", "discarded"),
    ("unconfirmed", "cancel", "canceled"),
    ("queued", "cancel", "canceled"),
])
def test_admin_acts_on_a_run_and_lands_on_its_page(admin_page: TestClient, platform: Platform, prod: int,
                                                   state: str, action: str, after: str) -> None:
    run_id = add_run(platform, stack_id=prod, state=state)
    answer = post_from_page(admin_page, f"/runs/{run_id}", f"/runs/{run_id}/{action}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/runs/{run_id}"
    assert run_state(platform, run_id) == after
    assert after in admin_page.get(f"/runs/{run_id}").text


def test_cancelling_a_working_run_asks_its_worker_to_stop(admin_page: TestClient, platform: Platform,
                                                          prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="planning")
    answer = post_from_page(admin_page, f"/runs/{run_id}", f"/runs/{run_id}/cancel")
    assert answer.status_code == 303
    page = admin_page.get(f"/runs/{run_id}").text
    assert "A cancel was requested" in page
    assert f'action="/runs/{run_id}/cancel"' not in page


def test_a_refused_action_shows_the_reason_on_the_run_page(admin_page: TestClient, platform: Platform,
                                                           prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="finished")
    answer = post_from_page(admin_page, "/", f"/runs/{run_id}/confirm")
    assert answer.status_code == 409
    assert 'role="alert"' in answer.text
    assert "only an unconfirmed tracked run can be confirmed" in answer.text
    assert run_state(platform, run_id) == "finished"


def test_a_reader_may_not_act(reader_page: TestClient, platform: Platform, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed")
    answer = post_from_page(reader_page, f"/runs/{run_id}", f"/runs/{run_id}/confirm")
    assert answer.status_code == 403
    assert "reader role" in answer.text
    assert run_state(platform, run_id) == "unconfirmed"
    trigger = post_from_page(reader_page, "/stacks/prod", "/stacks/prod/runs", type="tracked")
    assert trigger.status_code == 403


def test_an_action_without_the_csrf_token_is_refused(admin_page: TestClient, platform: Platform, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed")
    for data in ({}, {"csrf_token": "0" * 64}):
        answer = admin_page.post(f"/runs/{run_id}/confirm", data=data, follow_redirects=False)
        assert answer.status_code == 403
    assert run_state(platform, run_id) == "unconfirmed"


def test_an_action_posted_from_another_site_is_refused(admin_page: TestClient, platform: Platform,
                                                       prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed")
    token = csrf_of(admin_page.get(f"/runs/{run_id}").text)
    answer = admin_page.post(f"/runs/{run_id}/discard", data={"csrf_token": token},
                             headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert answer.status_code == 403
    assert run_state(platform, run_id) == "unconfirmed"
    same_site = admin_page.post(f"/runs/{run_id}/discard", data={"csrf_token": token},
                                headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same_site.status_code == 303
    assert run_state(platform, run_id) == "discarded"


def test_a_csrf_token_from_another_session_does_not_work(platform: Platform, admin_token: str, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed")
    with signed_in_client(platform, admin_token) as first, signed_in_client(platform, admin_token) as second:
        token = csrf_of(first.get("/").text)
        answer = second.post(f"/runs/{run_id}/confirm", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 403
    assert run_state(platform, run_id) == "unconfirmed"


def test_a_stranger_posting_is_sent_to_sign_in(client: TestClient, platform: Platform, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed")
    answer = client.post(f"/runs/{run_id}/confirm", data={"csrf_token": "x"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert run_state(platform, run_id) == "unconfirmed"


@pytest.mark.parametrize("path", ["/runs/999/confirm", "/runs/abc/confirm", "/runs/1/explode"])
def test_actions_on_unknown_runs_are_404_pages(admin_page: TestClient, platform: Platform, prod: int,
                                               path: str) -> None:
    add_run(platform, stack_id=prod, state="unconfirmed")
    answer = post_from_page(admin_page, "/", path)
    assert answer.status_code == 404
    assert "Not found" in answer.text
    assert run_state(platform, 1) == "unconfirmed"


@pytest.fixture
def gitlab() -> Iterator[tuple[GitLabDouble, str]]:
    double = GitLabDouble()
    double.add_user(username="stackyard-bot", token=TOKEN, scopes=("api",), expires_at=None)
    double.add_project(path="infra/live", default_branch="main", files={"prod/main.tf": "# prod\n"})
    with serve_double(double) as base_url:
        yield double, base_url


def test_admin_triggers_a_run_from_the_stack_page(client: TestClient, admin: dict[str, str], platform: Platform,
                                                  admin_token: str, gitlab: tuple[GitLabDouble, str]) -> None:
    double, base_url = gitlab
    body = {"kind": "gitlab", "name": "gl", "api_url": base_url, "token": TOKEN}
    assert client.post("/api/v1/integrations", headers=admin, json=body).status_code == 201
    stack = {"name": "prod", "integration": "gl", "repository": "infra/live", "project_root": "prod",
             "vendor": "commands", "commands": {"plan": ["true"]}, "install_webhook": False}
    assert client.post("/api/v1/stacks", headers=admin, json=stack).status_code == 201
    head = double.push("infra/live", branch="main", files={"prod/main.tf": "# v2\n"}, deliver=False)
    with signed_in_client(platform, admin_token) as page:
        answer = post_from_page(page, "/stacks/prod", "/stacks/prod/runs", type="proposed")
        assert answer.status_code == 303
        with platform.sessions() as session:
            run = session.scalars(select(Run)).one()
            assert (run.type, run.trigger, run.commit_sha) == ("proposed", "manual", head)
        assert answer.headers["location"] == f"/runs/{run.id}"

        bad = post_from_page(page, "/stacks/prod", "/stacks/prod/runs", type="tracked", sha="not-a-sha")
        assert bad.status_code == 400
        assert "sha must be 7 to 64 hexadecimal characters" in bad.text
        assert "<h1>prod</h1>" in bad.text

        again = post_from_page(page, "/stacks/prod", "/stacks/prod/runs", type="proposed")
        assert again.status_code == 409
        assert "has not ended yet" in again.text

        missing = post_from_page(page, "/", "/stacks/nope/runs", type="tracked")
        assert missing.status_code == 404
