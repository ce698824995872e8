"""Unpacking a GitLab repository archive without letting it write outside its folder."""

from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path, PurePosixPath

__all__ = ["UnsafeArchiveError", "safe_extract_tar_gz"]

_MAX_MEMBERS = 500_000
_MAX_TOTAL_BYTES = 4 * 1024**3


class UnsafeArchiveError(Exception):
    """The archive tries to reach outside its destination, or holds something a repository can't."""


def safe_extract_tar_gz(
    archive: Path,
    dest: Path,
    *,
    max_members: int = _MAX_MEMBERS,
    max_total_bytes: int = _MAX_TOTAL_BYTES,
) -> Path:
    """Check every member first, then extract with tarfile's "data" filter as a second guard.

    GitLab puts everything under one folder `<project>-<ref>-<sha>/`; the returned path is that
    folder, so callers see the repository root.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise UnsafeArchiveError(f"destination {dest} is not empty")
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            _check_members(members, max_members=max_members, max_total_bytes=max_total_bytes)
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as error:
        raise UnsafeArchiveError(f"archive member refused: {error}") from error
    except (tarfile.ReadError, EOFError) as error:
        raise UnsafeArchiveError(f"not a readable tar.gz archive: {error}") from error
    return _tree_root(dest, members)


def _check_members(members: list[tarfile.TarInfo], *, max_members: int, max_total_bytes: int) -> None:
    if len(members) > max_members:
        raise UnsafeArchiveError(f"archive has {len(members)} members, more than {max_members}")
    total = 0
    for member in members:
        name = _inside(member.name, what="path", member=member.name, allow_climb=False)
        if member.issym():
            # Relative links between a repository's own files (`../common.tf`) are normal.
            target = posixpath.join(posixpath.dirname(name), member.linkname)
            if PurePosixPath(member.linkname).is_absolute():
                target = member.linkname
            _inside(target, what="symlink target", member=member.name, allow_climb=True)
        elif member.islnk():
            _inside(member.linkname, what="hardlink target", member=member.name, allow_climb=False)
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(f"{member.name!r} is a device, fifo or other special file")
        total += member.size
        if total > max_total_bytes:
            raise UnsafeArchiveError(f"archive unpacks to more than {max_total_bytes} bytes")


def _inside(path: str, *, what: str, member: str, allow_climb: bool) -> str:
    """Normalise a member-relative path and refuse it unless it stays below the destination."""
    if not path or "\0" in path:
        raise UnsafeArchiveError(f"{what} of {member!r} is empty or contains NUL")
    if PurePosixPath(path).is_absolute():
        raise UnsafeArchiveError(f"{what} {path!r} of {member!r} is absolute")
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        raise UnsafeArchiveError(f"{what} {path!r} of {member!r} leaves the archive folder")
    if not allow_climb and ".." in PurePosixPath(path).parts:
        # normpath may fold `a/../b` into `b`, but the name still says "climb" through a path
        # that might be a symlink when extracted; a repository archive never needs that.
        raise UnsafeArchiveError(f"{what} {path!r} of {member!r} contains '..'")
    return normal


def _tree_root(dest: Path, members: list[tarfile.TarInfo]) -> Path:
    tops = {PurePosixPath(posixpath.normpath(member.name)).parts[0] for member in members}
    tops.discard(".")
    if len(tops) == 1:
        (top,) = tops
        candidate = dest / top
        if candidate.is_dir() and not candidate.is_symlink():
            return candidate
    return dest
