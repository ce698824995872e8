"""Serving ASGI apps (the double, or a test's webhook receiver) with uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp

from .app import DoubleApp

if TYPE_CHECKING:
    from .double import GitLabDouble


@contextmanager
def serve_asgi(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Yield the base URL once uvicorn accepts connections; the socket is bound first, so no race.

    `tls` (certificate, key) serves https, for clients that will not talk to a registry over http.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1,
        ssl_certfile=str(tls[0]) if tls else None, ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    try:
        yield f"{'https' if tls else 'http'}://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def serve_double(double: GitLabDouble, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the double; its web URLs and X-Gitlab-Instance then point at the served base URL."""
    with serve_asgi(DoubleApp(double), host=host, port=port) as base_url:
        with double.lock:
            double.external_url = base_url
        yield base_url
