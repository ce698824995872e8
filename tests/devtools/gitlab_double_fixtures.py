"""Pytest fixtures for the GitLab double tests, loaded with pytest_plugins by each test module.

A conftest.py here would shadow other folders' `from conftest import ...` (tests have no packages).
"""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest
from gitlab_double_shared import PROJECT_PATH, TOKEN, Received, Receiver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stackyard.devtools.gitlab_double import GitLabDouble, serve_asgi, serve_double


@pytest.fixture
def double() -> GitLabDouble:
    double = GitLabDouble()
    double.add_user(username="stackyard-bot", token=TOKEN, scopes=("api",), expires_at="2099-01-01", bot=True)
    double.add_user(username="alice", token="glpat-alice")
    double.add_project(path=PROJECT_PATH, default_branch="main", files={"main.tf": "resource {}\n"})
    return double


@pytest.fixture
def base_url(double: GitLabDouble) -> Iterator[str]:
    with serve_double(double) as url:
        yield url


@pytest.fixture
def gl(base_url: str) -> gitlab.Gitlab:
    client = gitlab.Gitlab(base_url, private_token=TOKEN, timeout=10)
    client.auth()
    return client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver served the same way as the double; answers with receiver.status."""
    box: list[Receiver] = []

    async def hook(request: Request) -> Response:
        box[0].received.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=box[0].status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_asgi(app) as url:
        box.append(Receiver(url=f"{url}/hook"))
        yield box[0]
