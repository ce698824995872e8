"""The database schema: one class per table, no behaviour, no commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets time zones; every timestamp we store and read back is UTC-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]


class Integration(Base):
    __tablename__ = "integrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="gitlab")
    api_url: Mapped[str] = mapped_column(String(500))
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    webhook_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    token_user: Mapped[str | None] = mapped_column(String(255))
    token_scopes: Mapped[list[Any]] = mapped_column(default=list)
    token_expires_at: Mapped[str | None] = mapped_column(String(40))
    token_problems: Mapped[list[Any]] = mapped_column(default=list)
    checked_at: Mapped[datetime | None]
    feedback_problem: Mapped[str | None] = mapped_column(Text)
    # Standard Webhooks signing token (`whsec_…`) for hooks the user installed by hand (GitLab 19.0+).
    signing_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set when GitLab answers 401 to the token; cleared by the next successful call or check.
    token_failing_since: Mapped[datetime | None]


class ManagedHook(Base):
    """A project hook Stackyard installed: one per (integration, GitLab project)."""

    __tablename__ = "managed_hooks"
    __table_args__ = (UniqueConstraint("integration_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(BigInteger)
    project_path: Mapped[str] = mapped_column(String(500), default="")
    hook_id: Mapped[int | None] = mapped_column(BigInteger)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # The signing token Stackyard gave this hook (GitLab 19.0+ ignores it where unsupported).
    signing_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Stack(Base):
    """A stack or (kind='module') a module: the thing runs belong to."""

    __tablename__ = "stacks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="stack")
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    repository: Mapped[str] = mapped_column(String(500))
    project_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    branch: Mapped[str] = mapped_column(String(255), default="main")
    project_root: Mapped[str] = mapped_column(String(500), default="")
    watched_paths: Mapped[list[Any]] = mapped_column(default=list)
    vendor: Mapped[str] = mapped_column(String(20))
    commands: Mapped[dict[str, Any]] = mapped_column(default=dict)
    autodeploy: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_forks: Mapped[bool] = mapped_column(Boolean, default=False)
    report_untouched: Mapped[bool] = mapped_column(Boolean, default=False)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_names: Mapped[list[Any]] = mapped_column(default=list)
    install_webhook: Mapped[bool] = mapped_column(Boolean, default=True)
    # Seconds a run's plan or apply may take; None means the server-wide default.
    time_limit: Mapped[int | None] = mapped_column(Integer)
    namespace: Mapped[str | None] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModuleVersion(Base):
    """A published module version: the packaged source of a semver tag whose test passed."""

    __tablename__ = "module_versions"
    __table_args__ = (UniqueConstraint("module_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("stacks.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(100))  # semver, without the tag's leading "v"
    tag: Mapped[str] = mapped_column(String(255))
    commit_sha: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(20), default="published")
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    yanked_at: Mapped[datetime | None]
    archive: Mapped[bytes] = mapped_column(LargeBinary)  # a deterministic .tar.gz of the project root
    archive_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("integration_id", "idempotency_key"),
        # One index for the sweeper, the run engine and /metrics: each index costs every webhook an insert.
        Index("ix_deliveries_state_received_at", "state", "received_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(100), default="")
    idempotency_key: Mapped[str] = mapped_column(String(100))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(20), default="received")
    outcome: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        # However many deliveries describe one change, a stack gets one run per commit and type (SPEC);
        # manual runs are exempt, so a person can plan the same commit again.
        Index(
            "uq_runs_stack_commit_type",
            "stack_id",
            "commit_sha",
            "type",
            unique=True,
            sqlite_where=text("trigger NOT IN ('manual', 'tag')"),
            postgresql_where=text("trigger NOT IN ('manual', 'tag')"),
        ),
        # Each tag is a change of its own (v1.0.0-rc.1 and v1.0.0 on one commit are two versions):
        # one test run per module, commit and tag.
        Index(
            "uq_runs_stack_commit_tag",
            "stack_id",
            "commit_sha",
            "type",
            "ref",
            unique=True,
            sqlite_where=text("trigger = 'tag'"),
            postgresql_where=text("trigger = 'tag'"),
        ),
        Index("ix_runs_stack_state", "stack_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stack_id: Mapped[int] = mapped_column(ForeignKey("stacks.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(20))
    commit_sha: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(255))
    merge_request_iid: Mapped[int | None] = mapped_column(BigInteger)
    from_fork: Mapped[bool] = mapped_column(Boolean, default=False)
    summary_add: Mapped[int | None]
    summary_change: Mapped[int | None]
    summary_destroy: Mapped[int | None]
    plan_text: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    # The state a failed or canceled run was in when it stopped (planning or applying, say).
    failed_during: Mapped[str | None] = mapped_column(String(20))
    log_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    log_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Tracked runs apply in this order: when GitLab's delivery arrived (for manual runs: when asked).
    # Run ids follow delivery *processing*, which several worker threads may do out of order.
    ordered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DeliveryRun(Base):
    """Which runs a delivery asked for, including runs another delivery had already created."""

    __tablename__ = "delivery_runs"
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)


class RunLogLine(Base):
    __tablename__ = "run_log_lines"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    stream: Mapped[str] = mapped_column(String(10), default="out")
    line: Mapped[str] = mapped_column(Text)


class Feedback(Base):
    """The outbox: one update GitLab should see, stored with the run before it is sent."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_pending", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stack_id: Mapped[int] = mapped_column(ForeignKey("stacks.id", ondelete="CASCADE"), index=True)
    # None for a stack's passing status on a commit that no run of it covers (report_untouched).
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # Updates sharing a channel (e.g. one commit status name on one commit) are sent in id order.
    channel: Mapped[str] = mapped_column(String(500), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
