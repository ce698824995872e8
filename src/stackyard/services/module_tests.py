"""A module's test run: pack the tagged source, test it, and publish the version when the test passes.

execution.py claims the run, fetches the commit and keeps the heartbeat as for any run; this module
holds what is particular to modules. The version is stored in the same transaction that finishes the
run, so a finished test run of a version tag and its published version never exist one without the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from stackyard.core.modules import version_from_tag
from stackyard.core.runs import RunState
from stackyard.runner.module_archive import pack_module
from stackyard.runner.vendors import ModuleTestResult
from stackyard.services.run_changes import change_state, unit_of_work
from stackyard.storage.tables import ModuleVersion, Run, Stack

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform
    from stackyard.services.run_log import RunLogWriter


@dataclass(frozen=True)
class Package:
    """What a passing test would publish: nothing when the run's ref is no version tag."""

    version: str | None
    archive: bytes = b""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.archive).hexdigest()


def package(platform: Platform, *, ref: str, folder: Path, writer: RunLogWriter) -> Package:
    """Packed before the test runs, while the workspace still holds exactly the tagged files
    (a test writes .terraform, lock files and whatever its commands make).

    Raises ArchiveTooLargeError over `STACKYARD_MODULE_ARCHIVE_LIMIT`.
    """
    version = version_from_tag(ref)
    if version is None:
        writer("stackyard", f"{ref} is not a version tag: testing only, nothing will be published")
        return Package(version=None)
    archive = pack_module(folder, limit=platform.settings.module_archive_limit)
    writer("stackyard", f"packed version {version}: {len(archive)} bytes")
    return Package(version=version, archive=archive)


def outcome(result: ModuleTestResult, *, time_limit: int) -> tuple[RunState, str | None]:
    if result.canceled:
        return RunState.CANCELED, "test canceled by a person"
    if result.timed_out:
        return RunState.FAILED, f"the test exceeded the time limit of {time_limit} s"
    if not result.exit_ok:
        return RunState.FAILED, "the test exited with an error (see the log)"
    return RunState.FINISHED, None


def finish(
    platform: Platform, *, run_id: int, result: ModuleTestResult, pack: Package, time_limit: int,
    writer: RunLogWriter,
) -> None:
    """Ends the run; a passing test of a version tag publishes that version in the same transaction."""
    state, reason = outcome(result, time_limit=time_limit)
    writer.flush()  # before the transaction below: SQLite has one writer at a time
    with unit_of_work(platform) as (session, after):
        run = session.get(Run, run_id)
        assert run is not None
        if run.state != RunState.PLANNING:
            return  # canceled or failed by someone else meanwhile
        stack = session.get(Stack, run.stack_id)
        assert stack is not None
        if state is RunState.FINISHED:
            reason = "tests passed" if pack.version is None else _publish(session, stack, run, pack)
        change_state(session, platform, after, run, stack, state, reason=reason)
    if reason is not None:
        writer("stackyard", reason)
        writer.flush()


def _publish(session: Session, module: Stack, run: Run, pack: Package) -> str:
    """A version, once published, is never replaced: a tag moved to another commit does not change it."""
    assert pack.version is not None
    same_version = select(ModuleVersion).options(defer(ModuleVersion.archive)).where(
        ModuleVersion.module_id == module.id, ModuleVersion.version == pack.version
    )
    existing = session.scalar(same_version)
    if existing is None:
        try:
            with session.begin_nested():
                session.add(ModuleVersion(
                    module_id=module.id, version=pack.version, tag=run.ref, commit_sha=run.commit_sha,
                    run_id=run.id, state="published", archive=pack.archive, archive_sha256=pack.sha256,
                    size=len(pack.archive),
                ))
            return f"v{pack.version} published"
        except IntegrityError:  # published by a concurrent run of the same version meanwhile
            existing = session.scalar(same_version)
    where = f" from {existing.commit_sha[:8]}" if existing is not None else ""
    return f"tests passed; v{pack.version} was already published{where} and is not replaced"
