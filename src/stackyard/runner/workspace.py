"""Cached source trees per commit, and a private copy of one for each run."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stackyard.runner.archive import safe_extract_tar_gz

__all__ = ["InvalidProjectRootError", "Workspace", "WorkspaceCache"]

_ARCHIVE_NAME = "archive.tar.gz"
_STALE_STAGING_SECONDS = 24 * 3600


class InvalidProjectRootError(ValueError):
    """A stack's project root that is absolute, climbs with '..', or is not a folder of the tree."""


@dataclass(frozen=True)
class Workspace:
    """One run's files. Kept from plan to apply, so `apply` finds the saved plan where `plan` left it."""

    run_id: int
    root: Path
    source: Path
    path: Path
    home: Path
    tmp: Path
    plan_summary_file: Path

    def cleanup(self) -> None:
        _remove_tree(self.root)


class WorkspaceCache:
    """Layout under root: `sources/<hash of key>/` (read-only trees), `locks/`, `runs/<run id>/`.

    Keys are hashed so any string (integration names, paths) is a safe directory name.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sources = root / "sources"
        self._locks = root / "locks"
        self._runs = root / "runs"

    def source_for(self, key: str, download: Callable[[Path], None]) -> Path:
        """Download and unpack once per key, however many threads or worker processes ask together.

        The tree appears under its final name by one rename, so a directory that exists is
        complete; the lock only decides who does the work.
        """
        final = self._source_dir(key)
        if final.is_dir():
            _touch(final)
            return final
        self._sources.mkdir(parents=True, exist_ok=True)
        with self._locked(key):
            if final.is_dir():
                _touch(final)
                return final
            staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self._sources))
            try:
                archive = staging / _ARCHIVE_NAME
                download(archive)
                tree = safe_extract_tar_gz(archive, staging / "tree")
                # The top folder keeps its write bit until after the rename: moving a folder to
                # another parent needs write access to the folder itself.
                for path in _walk(tree, include_top=False):
                    _drop_write(path)
                self._key_file(key).write_text(key)
                with contextlib.suppress(OSError):
                    os.rename(tree, final)
                if not final.is_dir():
                    raise OSError(f"could not move the unpacked source into {final}")
                _drop_write(final)
            finally:
                _remove_tree(staging)
        return final

    def new_workspace(self, run_id: int, source: Path, project_root: str) -> Workspace:
        """Copy, never link: a plan writes .terraform, lock files and the saved plan into its tree.

        A workspace left by an earlier attempt of the same run is replaced.
        """
        root = self._run_dir(run_id)
        _remove_tree(root)
        root.mkdir(parents=True)
        shutil.copytree(source, root / "src", symlinks=True)
        _make_writable(root / "src")
        for folder in ("home", "tmp"):
            (root / folder).mkdir()
        return self.existing_workspace(run_id, project_root)

    def existing_workspace(self, run_id: int, project_root: str) -> Workspace:
        """Reopen a run's workspace for the apply that follows its plan."""
        root = self._run_dir(run_id)
        if not (root / "src").is_dir():
            raise FileNotFoundError(f"run {run_id} has no workspace at {root}")
        source = root / "src"
        return Workspace(
            run_id=run_id,
            root=root,
            source=source,
            path=_project_dir(source, project_root),
            home=root / "home",
            tmp=root / "tmp",
            plan_summary_file=root / "plan-summary.json",
        )

    def prune(self, keep_keys: Collection[str] = (), *, unused_for: float | None = None) -> list[str]:
        """Drop cached sources not in keep_keys (and, with unused_for, only those idle that many seconds).

        Returns the keys removed. Each removal holds the key's lock, so a concurrent source_for
        either sees the old tree before removal or downloads afresh.
        """
        if not self._sources.is_dir():
            return []
        keep = {self._hash(key) for key in keep_keys}
        cutoff = None if unused_for is None else time.time() - unused_for
        removed = []
        for entry in sorted(self._sources.iterdir()):
            if entry.name.startswith(".tmp-"):
                # Left by a worker that died mid-download; a live one is never this old.
                if entry.stat().st_mtime < time.time() - _STALE_STAGING_SECONDS:
                    _remove_tree(entry)
                continue
            if entry.name.endswith(".key") or entry.name in keep:
                continue
            key_file = self._sources / f"{entry.name}.key"
            key = key_file.read_text() if key_file.is_file() else entry.name
            with self._locked(key):
                if cutoff is not None and entry.is_dir() and entry.stat().st_mtime > cutoff:
                    continue
                _remove_tree(entry)
                key_file.unlink(missing_ok=True)
            removed.append(key)
        return removed

    def prune_workspaces(self, active_run_ids: Collection[int]) -> list[int]:
        """Remove workspaces a crashed worker left for runs that are no longer active."""
        if not self._runs.is_dir():
            return []
        removed = []
        for entry in self._runs.iterdir():
            if entry.name.isdigit() and int(entry.name) not in active_run_ids:
                _remove_tree(entry)
                removed.append(int(entry.name))
        return sorted(removed)

    @staticmethod
    def _hash(key: str) -> str:
        if not key or "\0" in key:
            raise ValueError("cache key must be a non-empty string without NUL")
        return hashlib.sha256(key.encode()).hexdigest()[:40]

    def _source_dir(self, key: str) -> Path:
        return self._sources / self._hash(key)

    def _key_file(self, key: str) -> Path:
        return self._sources / f"{self._hash(key)}.key"

    def _run_dir(self, run_id: int) -> Path:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
            raise ValueError(f"run id must be a non-negative integer, got {run_id!r}")
        return self._runs / str(run_id)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """flock, not a lock object: worker processes on one machine share the cache.

        Lock files are never deleted; deleting one while another process waits on it would
        let two holders in.
        """
        self._locks.mkdir(parents=True, exist_ok=True)
        with open(self._locks / f"{self._hash(key)}.lock", "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _project_dir(source: Path, project_root: str) -> Path:
    """Leading and trailing slashes are forgiven ("/infra/" means "infra"); climbing out is not."""
    if "\0" in project_root or "\\" in project_root:
        raise InvalidProjectRootError(f"project root {project_root!r} contains NUL or backslash")
    relative = PurePosixPath(project_root.strip("/") or ".")
    if ".." in relative.parts:
        raise InvalidProjectRootError(f"project root {project_root!r} must not contain '..'")
    path = source.joinpath(*relative.parts)
    resolved = path.resolve()
    if not resolved.is_relative_to(source.resolve()):
        raise InvalidProjectRootError(f"project root {project_root!r} leads outside the repository")
    if not resolved.is_dir():
        raise InvalidProjectRootError(f"project root {project_root!r} is not a folder in the repository")
    return path


def _touch(path: Path) -> None:
    """Mark a cached source as used, for prune(unused_for=...)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _drop_write(path: Path) -> None:
    if not path.is_symlink():
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(tree: Path) -> None:
    for path in _walk(tree):
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def _walk(tree: Path, *, include_top: bool = True) -> Iterator[Path]:
    if include_top:
        yield tree
    for folder, dirs, files in os.walk(tree):
        for name in (*dirs, *files):
            yield Path(folder) / name


def _remove_tree(path: Path) -> None:
    """rmtree that also works on the read-only trees this module makes."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        for folder, _dirs, _files in os.walk(path):
            with contextlib.suppress(OSError):
                os.chmod(folder, stat.S_IMODE(os.stat(folder).st_mode) | stat.S_IRWXU)
        shutil.rmtree(path)
    else:
        path.unlink()
