"""Configuration: the only place that reads the process environment."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Stackyard process; names are fixed by SPEC.md (STACKYARD_*)."""

    model_config = SettingsConfigDict(env_prefix="STACKYARD_", frozen=True, extra="ignore")

    data_dir: Path = Path("./.stackyard")
    database_url: str = ""
    queue_url: str = ""
    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8080"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    queue_name: str = "stackyard"
    # GitLab never sends more than 25 MB (GITLAB.md A7), so anything larger is not GitLab.
    webhook_max_body: int = 25 * 1024 * 1024
    # Standard Webhooks asks receivers to refuse timestamps further than ~5 minutes away (GITLAB.md A4).
    webhook_signature_tolerance: int = 300
    worker_threads: int = 4
    run_timeout: int = 3600
    run_log_limit: int = 5 * 1024 * 1024
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 60.0
    gitlab_timeout: float = 15.0
    # Extra directories (':'-separated) put first on a run's PATH, e.g. where `tofu` is installed.
    run_path: str = ""
    session_max_age: int = 12 * 3600
    # Bytes a module version's files may take, packed as a tar before compression (kept in the database).
    module_archive_limit: int = 50 * 1024 * 1024
    # Seconds a registry download link (X-Terraform-Get) stays valid.
    registry_link_ttl: int = 300

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        """Empty URLs mean the embedded defaults inside the data dir (SPEC.md, Configuration)."""
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'stackyard.db'}")
        if not self.queue_url:
            object.__setattr__(self, "queue_url", f"sqlite:///{self.data_dir / 'queue.db'}")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        return self

    @property
    def public_url_set(self) -> bool:
        """STACKYARD_PUBLIC_URL was given, rather than left to its default."""
        return "public_url" in self.model_fields_set

    @property
    def workspace_dir(self) -> Path:
        return self.data_dir / "workspaces"


def serving_at(settings: Settings, host: str, port: int) -> Settings:
    """Without STACKYARD_PUBLIC_URL, webhook URLs and links point where `serve` listens.

    A hook installed at the default port while Stackyard listens on another would deliver nowhere.
    A wildcard address names no host GitLab could use, so loopback stands in for it.
    """
    if settings.public_url_set:
        return settings
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return settings.model_copy(update={"public_url": f"http://{shown}:{port}"})


def only_this_machine(public_url: str) -> bool:
    """The public URL is a loopback address: no GitLab but one on this machine can deliver to it."""
    host = urlparse(public_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


class ClientSettings(BaseSettings):
    """Where the CLI's client commands send requests, and as whom (STACKYARD_URL, STACKYARD_TOKEN)."""

    model_config = SettingsConfigDict(env_prefix="STACKYARD_", frozen=True, extra="ignore")

    url: str = "http://127.0.0.1:8080"
    token: SecretStr | None = None
