"""Browser tests: Debian's chromium driven by Playwright against a real uvicorn serving Stackyard.

One chromium per session (starting it is the slow part); per test a fresh platform (the root
conftest's `platform`: its own data dir and database), served on a free loopback port in a thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from stackyard.bootstrap import Platform, create_app
from stackyard.devtools.gitlab_double.server import serve_asgi

# Debian's package (Makefile: DEBIAN_PACKAGES); `playwright install` would need the internet.
CHROMIUM = Path("/usr/bin/chromium")


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is open,
# which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "install Debian's chromium (make test does: apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def server(platform: Platform) -> Iterator[str]:
    with serve_asgi(create_app(platform)) as base_url:
        yield base_url


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server)
    opened = context.new_page()
    yield opened
    context.close()

