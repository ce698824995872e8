"""Every page for a signed-in person: what it shows, what it never shows, and friendly 404s."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from stackyard.services.integrations import get_integration
from stackyard.storage.tables import Integration, ManagedHook, utcnow
from support.ui_rows import (
    add_delivery,
    add_feedback,
    add_integration,
    add_log_lines,
    add_run,
    add_stack,
)

SECRET_VALUE = "hunter2-do-not-show"


@pytest.fixture
def prod(platform: Platform) -> int:
    integration = add_integration(platform)
    return add_stack(platform, name="prod", integration_id=integration, environment={"TF_VAR_region": "eu-west-1"},
                     secrets={"AWS_SECRET_ACCESS_KEY": SECRET_VALUE})


def test_home_lists_stacks_with_their_latest_run_and_recent_runs(admin_page: TestClient, platform: Platform,
                                                                  prod: int) -> None:
    add_run(platform, stack_id=prod, state="finished", sha="1" * 40)
    latest = add_run(platform, stack_id=prod, state="unconfirmed", sha="2" * 40, summary=(1, 0, 2))
    page = admin_page.get("/")
    assert page.status_code == 200
    assert '<a href="/stacks/prod">prod</a>' in page.text
    assert f'<a href="/runs/{latest}">#{latest}</a>' in page.text
    assert "unconfirmed" in page.text and "finished" in page.text
    assert "+1" in page.text and "-2" in page.text
    assert "22222222" in page.text


def test_home_without_stacks_says_how_to_make_one(admin_page: TestClient) -> None:
    page = admin_page.get("/")
    assert "No stacks yet" in page.text
    assert "No runs yet" in page.text


def test_stack_page_shows_settings_variables_and_secret_names_only(admin_page: TestClient, platform: Platform,
                                                                   prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="finished")
    page = admin_page.get("/stacks/prod")
    assert page.status_code == 200
    assert "<h1>prod</h1>" in page.text
    assert "TF_VAR_region" in page.text and "eu-west-1" in page.text
    assert "AWS_SECRET_ACCESS_KEY" in page.text
    assert SECRET_VALUE not in page.text
    assert f'href="/runs/{run_id}"' in page.text
    assert 'href="https://gitlab.example.com/infra/live"' in page.text


def test_stack_page_pages_through_older_runs(admin_page: TestClient, platform: Platform, prod: int) -> None:
    ids = [add_run(platform, stack_id=prod, state="finished", sha=f"{i:040x}") for i in range(1, 53)]
    first = admin_page.get("/stacks/prod")
    assert f'href="/runs/{ids[-1]}"' in first.text
    assert f'href="/runs/{ids[0]}"' not in first.text
    assert f"/stacks/prod?cursor={ids[2]}" in first.text
    older = admin_page.get(f"/stacks/prod?cursor={ids[2]}")
    assert f'href="/runs/{ids[0]}"' in older.text
    assert admin_page.get("/stacks/prod?cursor=nonsense").status_code == 200


def test_admin_gets_the_trigger_form_reader_does_not(admin_page: TestClient, reader_page: TestClient,
                                                     prod: int) -> None:
    assert 'action="/stacks/prod/runs"' in admin_page.get("/stacks/prod").text
    reader_view = reader_page.get("/stacks/prod")
    assert reader_view.status_code == 200
    assert 'action="/stacks/prod/runs"' not in reader_view.text


@pytest.mark.parametrize("path", ["/stacks/nope", "/modules/nope", "/runs/999", "/runs/abc", "/runs/-1",
                                  "/runs/99999999999999999999999", "/settings/integrations/nope"])
def test_unknown_things_get_a_friendly_404_page(admin_page: TestClient, path: str) -> None:
    page = admin_page.get(path)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert 'href="/"' in page.text


def test_a_stack_is_not_a_module_and_a_module_not_a_stack(admin_page: TestClient, platform: Platform,
                                                          prod: int) -> None:
    integration = add_integration(platform, name="gl2")
    add_stack(platform, name="vpc", integration_id=integration, kind="module", namespace="net", provider="aws")
    assert admin_page.get("/modules/prod").status_code == 404
    assert admin_page.get("/stacks/vpc").status_code == 404
    page = admin_page.get("/modules/vpc")
    assert page.status_code == 200
    assert "127.0.0.1:8080/net/vpc/aws" in page.text
    assert "Module vpc" in page.text


def test_run_page_renders_the_log_summary_and_plan(admin_page: TestClient, platform: Platform, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed", summary=(2, 1, 0),
                     plan_text="+ aws_s3_bucket.logs")
    add_log_lines(platform, run_id, ["tofu init", "Plan: 2 to add, 1 to change, 0 to destroy."])
    add_log_lines(platform, run_id, ["a warning"], stream="err")
    page = admin_page.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert f"Run #{run_id}" in page.text
    assert 'data-seq="1">tofu init' in page.text
    assert 'class="line stream-err" data-seq="3">a warning' in page.text
    assert 'data-after="3" data-state="unconfirmed"' in page.text
    assert "2 to add, 1 to change, 0 to destroy" in page.text
    assert "+ aws_s3_bucket.logs" in page.text
    assert '<script src="/static/run-log.js" defer></script>' in page.text
    assert "waits for a person to confirm" in page.text


def test_run_page_says_what_gitlab_was_told_and_what_is_still_waiting(
    admin_page: TestClient, platform: Platform, prod: int
) -> None:
    quiet = add_run(platform, stack_id=prod, state="queued", sha="b" * 40)
    assert "Nothing for GitLab yet." in admin_page.get(f"/runs/{quiet}").text
    run_id = add_run(platform, stack_id=prod, state="applying", summary=(1, 0, 0))
    add_feedback(platform, run_id, "status", {"name": "stackyard/prod", "state": "running", "description": "applying"},
                 state="sent", sent_at=utcnow())
    add_feedback(platform, run_id, "comment", {"state": "applying"}, state="sent", sent_at=utcnow(),
                 result={"notes": {"7": 99}})
    add_feedback(platform, run_id, "deployment", {"environment": "stackyard/prod", "status": "running"},
                 state="pending", attempts=3, last_error="GitLab answered 502: <b>Bad Gateway</b>")
    page = admin_page.get(f"/runs/{run_id}")
    assert page.status_code == 200
    rows = page.text.split('id="gitlab-updates"')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 3
    status, comment, deployment = rows
    assert "<code>stackyard/prod</code>: running" in status and "tone-ok" in status and "(applying)" in status
    assert "Merge request comment on !7: applying" in comment
    assert "Deployment on <code>stackyard/prod</code>: running" in deployment
    assert "tone-wait" in deployment and "after 3 attempts" in deployment and "next try" in deployment
    assert "502: &lt;b&gt;Bad Gateway&lt;/b&gt;" in deployment


def test_a_finished_run_page_loads_no_script(admin_page: TestClient, platform: Platform, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="failed", reason="plan exited with 1")
    page = admin_page.get(f"/runs/{run_id}")
    assert "run-log.js" not in page.text
    assert "plan exited with 1" in page.text
    assert "The run has ended." in page.text


def test_log_lines_are_escaped_not_interpreted(admin_page: TestClient, platform: Platform, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod)
    add_log_lines(platform, run_id, ['<script>alert("x")</script>'])
    page = admin_page.get(f"/runs/{run_id}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_run_actions_match_the_run_for_admins_and_vanish_for_readers(
    admin_page: TestClient, reader_page: TestClient, platform: Platform, prod: int
) -> None:
    unconfirmed = add_run(platform, stack_id=prod, state="unconfirmed", sha="1" * 40)
    planning = add_run(platform, stack_id=prod, state="planning", sha="2" * 40)
    finished = add_run(platform, stack_id=prod, state="finished", sha="3" * 40)
    proposed = add_run(platform, stack_id=prod, state="unconfirmed", run_type="proposed", sha="4" * 40)
    actions = {"confirm", "discard", "cancel"}

    def buttons(client: TestClient, run_id: int) -> set[str]:
        text = client.get(f"/runs/{run_id}").text
        return {a for a in actions if f'action="/runs/{run_id}/{a}"' in text}

    assert buttons(admin_page, unconfirmed) == {"confirm", "discard", "cancel"}
    assert buttons(admin_page, planning) == {"cancel"}
    assert buttons(admin_page, finished) == set()
    assert buttons(admin_page, proposed) == {"discard", "cancel"}
    for run_id in (unconfirmed, planning, proposed):
        assert buttons(reader_page, run_id) == set()


def test_deliveries_page_lists_what_gitlab_sent_and_the_runs_it_made(admin_page: TestClient, platform: Platform,
                                                                     prod: int) -> None:
    run_id = add_run(platform, stack_id=prod)
    add_delivery(platform, integration_id=1, event="Push Hook", outcome="1 run", run_ids=[run_id])
    add_delivery(platform, integration_id=1, event="Note Hook", outcome="ignored: not a command", run_ids=[])
    page = admin_page.get("/deliveries")
    assert page.status_code == 200
    assert "Push Hook" in page.text and "Note Hook" in page.text
    assert "ignored: not a command" in page.text
    assert f'<a href="/runs/{run_id}">#{run_id}</a>' in page.text
    assert page.text.index("Note Hook") < page.text.index("Push Hook")


def test_integration_pages_show_the_secret_to_admins_only(admin_page: TestClient, reader_page: TestClient,
                                                          platform: Platform, prod: int) -> None:
    with platform.sessions() as session:
        secret = platform.box.decrypt(get_integration(session, "gl").webhook_secret_encrypted)
    listing = reader_page.get("/settings/integrations")
    assert listing.status_code == 200
    assert "http://127.0.0.1:8080/webhooks/gitlab/gl" in listing.text
    assert "not checked yet" in listing.text
    assert secret not in listing.text

    reader_view = reader_page.get("/settings/integrations/gl")
    assert reader_view.status_code == 200
    assert "http://127.0.0.1:8080/webhooks/gitlab/gl" in reader_view.text
    assert "Only admins can see the webhook secret" in reader_view.text
    assert secret not in reader_view.text

    admin_view = admin_page.get("/settings/integrations/gl")
    assert secret in admin_view.text
    assert admin_view.headers["cache-control"] == "no-store"
    assert '<a href="/stacks/prod">prod</a>' in admin_view.text


def test_integration_page_shows_token_problems_and_hooks(admin_page: TestClient, platform: Platform,
                                                         prod: int) -> None:
    with platform.sessions.begin() as session:
        row = session.query(Integration).one()
        row.token_problems = ["the token expires in 3 days"]
        row.token_user = "stackyard-bot"
        session.add(ManagedHook(integration_id=row.id, project_id=7, project_path="infra/live", hook_id=42,
                                secret_encrypted=platform.box.encrypt("hook-secret"), state="failed",
                                last_error="403 Forbidden"))
    page = admin_page.get("/settings/integrations/gl")
    assert "needs attention" in page.text
    assert "the token expires in 3 days" in page.text
    assert "stackyard-bot" in page.text
    assert "infra/live" in page.text and "403 Forbidden" in page.text
    assert "hook-secret" not in page.text


def test_pages_carry_a_strict_content_security_policy(admin_page: TestClient) -> None:
    page = admin_page.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text


def test_static_files_are_served(client: TestClient) -> None:
    assert "tone-ok" in client.get("/static/style.css").text
    assert "/log-lines?after=" in client.get("/static/run-log.js").text
