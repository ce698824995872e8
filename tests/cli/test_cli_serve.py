"""`stackyard serve`: without STACKYARD_PUBLIC_URL, webhook URLs point where it listens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stackyard.settings import Settings, only_this_machine, serving_at
from support.servers import free_port, wait_for_port

STACKYARD = str(Path(sys.executable).parent / "stackyard")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("::", "http://[::1]:9000"),
        ("fd00::7", "http://[fd00::7]:9000"),
        ("stackyard.internal", "http://stackyard.internal:9000"),
    ],
)
def test_the_public_url_defaults_to_where_serve_listens(tmp_path: Path, host: str, expected: str) -> None:
    settings = Settings(data_dir=tmp_path)  # type: ignore[call-arg]
    assert serving_at(settings, host, 9000).public_url == expected


def test_a_configured_public_url_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_url="https://stackyard.example.com/")  # type: ignore[call-arg]
    assert serving_at(settings, "0.0.0.0", 9000).public_url == "https://stackyard.example.com"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://10.0.0.5:8080", False),
        ("https://stackyard.example.com", False),
    ],
)
def test_only_this_machine(url: str, local: bool) -> None:
    assert only_this_machine(url) is local


def test_serve_on_another_port_gives_webhook_urls_on_that_port(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STACKYARD_PUBLIC_URL"}
    env |= {"STACKYARD_DATA_DIR": str(tmp_path), "STACKYARD_LOG_LEVEL": "WARNING"}
    token = subprocess.run([STACKYARD, "token", "create", "--name", "me"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([STACKYARD, "serve", "--no-worker", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/integrations", method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            data=json.dumps({"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com",
                             "token": "glpat-x"}).encode())
        with urllib.request.urlopen(request) as answer:
            created = json.load(answer)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert created["webhook_url"] == f"http://127.0.0.1:{port}/webhooks/gitlab/gl"
    assert f"public URL http://127.0.0.1:{port}" in output
    assert "set STACKYARD_PUBLIC_URL to the address your GitLab reaches Stackyard at" in output


def test_a_worker_without_a_public_url_says_where_its_links_will_point(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STACKYARD_PUBLIC_URL"}
    env |= {"STACKYARD_DATA_DIR": str(tmp_path), "STACKYARD_LOG_LEVEL": "INFO", "STACKYARD_LOG_FORMAT": "console"}
    subprocess.run([STACKYARD, "db", "upgrade"], env=env, check=True, capture_output=True)
    worker = subprocess.Popen([STACKYARD, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    seen: list[str] = []
    try:
        assert worker.stdout is not None
        # The consumer's own start line comes after the warning: read up to it.
        for line in worker.stdout:
            seen.append(line)
            if "consumer started" in line.lower():
                break
    finally:
        worker.terminate()
        worker.communicate(timeout=60)
    assert any("STACKYARD_PUBLIC_URL is not set" in line and "http://127.0.0.1:8080" in line for line in seen), seen
