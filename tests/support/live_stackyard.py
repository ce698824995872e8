"""Stackyard really listening at its public URL, so the GitLab double's hooks reach it as in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from stackyard.bootstrap import Platform, create_app
from stackyard.devtools.gitlab_double.server import serve_asgi
from stackyard.settings import Settings
from support.servers import free_port


def with_live_public_url(settings: Settings) -> Settings:
    """Use in a module's `settings` fixture override; serve with `serving(platform)`."""
    return settings.model_copy(update={"public_url": f"http://127.0.0.1:{free_port()}"})


@contextmanager
def serving(platform: Platform) -> Iterator[str]:
    port = int(platform.settings.public_url.rsplit(":", 1)[1])
    with serve_asgi(create_app(platform), port=port) as url:
        yield url
