"""The real tool against the registry: `terraform init` (or `tofu init`) discovers Stackyard over
https, picks the newest published version matching `~> 1.0` (a yanked newer one is invisible), and
installs the archive from the signed link."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform, create_app
from stackyard.devtools.gitlab_double import GitLabDouble
from stackyard.devtools.gitlab_double.server import serve_asgi
from stackyard.settings import Settings
from support.gitlab_setup import PROJECT, add_integration, gitlab_with_project
from support.queue import drain
from support.servers import free_port
from support.tls import self_signed

TOOL = shutil.which("tofu", path="/usr/local/bin:/usr/bin:/bin") or shutil.which(
    "terraform", path="/usr/local/bin:/usr/bin:/bin"
)
MODULE = 'variable "cidr" {\n  default = "10.0.0.0/16"\n}\noutput "cidr" {\n  value = var.cidr\n}\n'

pytestmark = pytest.mark.skipif(TOOL is None, reason="neither tofu nor terraform is installed")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Terraform wants a dot in a registry hostname, and https: 127.0.0.1 with a certificate for it.
    return settings.model_copy(update={"public_url": f"https://127.0.0.1:{free_port()}"})


@pytest.fixture
def gitlab(platform: Platform, tmp_path: Path) -> Iterator[tuple[GitLabDouble, str, Path]]:
    cert, key = self_signed(tmp_path)
    port = urlsplit(platform.settings.public_url).port
    assert port is not None
    with serve_asgi(create_app(platform), port=port, tls=(cert, key)), \
            gitlab_with_project({"modules/net/main.tf": MODULE, "README.md": "# repo\n"}) as (double, base_url):
        yield double, base_url, cert


def publish(client: TestClient, admin: dict[str, str], platform: Platform, double: GitLabDouble, tag: str,
            files: dict[str, str]) -> None:
    sha = double.push(PROJECT, branch="main", files=files, deliver=False)
    double.push_tag(PROJECT, tag, sha, deliver=False)
    assert client.post("/api/v1/modules/net/runs", headers=admin, json={"tag": tag}).status_code == 201
    drain(platform)


def test_terraform_init_installs_the_published_module(
    client: TestClient, admin: dict[str, str], reader_token: str, platform: Platform,
    gitlab: tuple[GitLabDouble, str, Path], tmp_path: Path,
) -> None:
    assert TOOL is not None
    double, base_url, cert = gitlab
    add_integration(client, admin, base_url)
    created = client.post("/api/v1/modules", headers=admin, json={
        "name": "net", "integration": "gl", "repository": PROJECT, "project_root": "modules/net",
        "namespace": "platform", "provider": "aws", "vendor": "commands", "commands": {"test": ["test -f main.tf"]},
        "environment": {}, "secrets": {}, "install_webhook": False,
    })
    assert created.status_code == 201, created.text
    source = created.json()["source"]
    publish(client, admin, platform, double, "v1.0.0", {})
    publish(client, admin, platform, double, "v1.0.1", {"modules/net/extra.tf": "# 1.0.1\n"})
    publish(client, admin, platform, double, "v1.1.0", {"modules/net/broken.tf": "# yanked\n"})
    assert client.post("/api/v1/modules/net/versions/1.1.0/yank", headers=admin).status_code == 200
    publish(client, admin, platform, double, "v2.0.0", {"modules/net/two.tf": "# 2.0.0\n"})

    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(f'module "net" {{\n  source  = "{source}"\n  version = "~> 1.0"\n}}\n')
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text(f'credentials "{urlsplit(platform.settings.public_url).netloc}" {{\n'
                          f'  token = "{reader_token}"\n}}\n')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "TF_CLI_CONFIG_FILE": str(cli_config),
        "SSL_CERT_FILE": str(cert), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1",
    }
    done = subprocess.run([TOOL, "init", "-backend=false", "-input=false", "-no-color"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    manifest = json.loads((root / ".terraform" / "modules" / "modules.json").read_text())
    [installed] = [m for m in manifest["Modules"] if m["Key"] == "net"]
    assert installed["Version"] == "1.0.1"  # 1.1.0 is yanked, 2.0.0 does not match ~> 1.0
    folder = root / installed["Dir"]
    assert sorted(p.name for p in folder.iterdir()) == ["extra.tf", "main.tf"]
    assert (folder / "main.tf").read_text() == MODULE

    no_token = {**env, "TF_CLI_CONFIG_FILE": str(tmp_path / "none.tfrc")}
    shutil.rmtree(root / ".terraform")
    refused = subprocess.run([TOOL, "init", "-backend=false", "-input=false", "-no-color"], cwd=root, env=no_token,
                             capture_output=True, text=True, timeout=240, check=False)
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
