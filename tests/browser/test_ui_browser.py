"""A person in a browser: signs in, finds stacks and runs, follows a log live, confirms a run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from stackyard.bootstrap import Platform
from stackyard.services.integrations import get_integration
from stackyard.storage.tables import Run
from support.ui_rows import add_integration, add_log_lines, add_run, add_stack, run_state

pytestmark = pytest.mark.browser


def sign_in(page: Page, token: str) -> None:
    """Fills the form a person would; the page they land on depends on `next`."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def prod(platform: Platform) -> int:
    return add_stack(platform, name="prod", integration_id=add_integration(platform),
                     secrets={"DB_PASSWORD": "s3cret-value"})


def test_sign_in_and_see_stacks_and_runs(page: Page, platform: Platform, admin_token: str, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="finished", summary=(3, 0, 1))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    sign_in(page, admin_token)
    expect(page.get_by_role("heading", name="Stacks", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="prod", exact=True).first).to_be_visible()
    page.get_by_role("link", name=f"#{run_id}").first.click()
    expect(page.get_by_role("heading", name=f"Run #{run_id}")).to_be_visible()
    expect(page.locator("#run-state")).to_have_text("finished")


def test_the_log_grows_live_on_the_run_page(page: Page, platform: Platform, admin_token: str, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="planning")
    add_log_lines(platform, run_id, ["Initializing the backend..."])
    page.goto(f"/runs/{run_id}")
    sign_in(page, admin_token)
    log = page.locator("#log")
    expect(log).to_contain_text("Initializing the backend...")
    expect(page.locator("#log-status")).to_have_text("Following the log live.")

    add_log_lines(platform, run_id, ["Plan: 1 to add, 0 to change, 0 to destroy."])
    add_log_lines(platform, run_id, ["Warning: deprecated argument"], stream="err")
    expect(log.locator(".line")).to_have_count(3)
    expect(log.locator(".line").nth(2)).to_have_text("Warning: deprecated argument")
    expect(log.locator(".stream-err")).to_have_count(1)

    # Once the plan waits for confirmation the page reloads to offer the buttons.
    with platform.sessions.begin() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.state, run.summary_add, run.summary_change, run.summary_destroy = "unconfirmed", 1, 0, 0
    expect(page.get_by_role("button", name="Confirm and apply")).to_be_visible()
    expect(page.locator("#run-state")).to_have_text("unconfirmed")
    expect(log.locator(".line")).to_have_count(3)


def test_confirm_an_unconfirmed_run_from_its_page(page: Page, platform: Platform, admin_token: str,
                                                  prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed", summary=(1, 0, 0))
    page.goto(f"/runs/{run_id}")
    sign_in(page, admin_token)
    expect(page.locator("#run-state")).to_have_text("unconfirmed")
    page.get_by_role("button", name="Confirm and apply").click()
    expect(page.locator("#run-state")).to_have_text("confirmed")
    expect(page.get_by_role("button", name="Confirm and apply")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
    assert run_state(platform, run_id) == "confirmed"


def test_a_reader_sees_no_buttons_and_no_webhook_secret(page: Page, platform: Platform, reader_token: str,
                                                        prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="unconfirmed")
    with platform.sessions() as session:
        secret = platform.box.decrypt(get_integration(session, "gl").webhook_secret_encrypted)
    page.goto(f"/runs/{run_id}")
    sign_in(page, reader_token)
    expect(page.locator("#run-state")).to_have_text("unconfirmed")
    expect(page.locator("main button")).to_have_count(0)

    page.goto("/stacks/prod")
    expect(page.get_by_role("heading", name="prod")).to_be_visible()
    expect(page.get_by_text("DB_PASSWORD")).to_be_visible()
    expect(page.locator("main button")).to_have_count(0)
    assert "s3cret-value" not in page.content()

    page.goto("/settings/integrations/gl")
    expect(page.get_by_text("Only admins can see the webhook secret.")).to_be_visible()
    assert secret not in page.content()


def test_a_gitlab_link_leads_through_sign_in_and_back(page: Page, server: str, platform: Platform,
                                                      admin_token: str, prod: int) -> None:
    run_id = add_run(platform, stack_id=prod, state="finished")
    page.goto(f"{server}/runs/{run_id}")
    expect(page).to_have_url(f"{server}/login?next=/runs/{run_id}")
    sign_in(page, admin_token)
    expect(page).to_have_url(f"{server}/runs/{run_id}")
    expect(page.get_by_role("heading", name=f"Run #{run_id}")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server}/login")
    page.goto(f"{server}/stacks/prod")
    expect(page).to_have_url(f"{server}/login?next=/stacks/prod")
