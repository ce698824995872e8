"""Packing a module's folder into the .tar.gz the registry serves: same files in, same bytes out."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

__all__ = ["ArchiveTooLargeError", "pack_module"]

# Fixed metadata: two packings of one commit give the same bytes (and the same SHA-256), whatever
# the worker's clock, user or umask.
_MTIME = 0
_DIR_MODE = 0o755


class ArchiveTooLargeError(ValueError):
    """The packed module is bigger than the configured limit."""


def pack_module(folder: Path, *, limit: int) -> bytes:
    """Entries sorted, owners root, mtimes 0; files keep only their executable bit.

    The module's files sit at the top of the archive, as go-getter unpacks an archive into the
    module's directory. Symbolic links are kept when they point inside the folder and dropped
    otherwise (a link out of the module would be dangling wherever it is installed).
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _entries(folder):
            relative = path.relative_to(folder).as_posix()
            info = tarfile.TarInfo(relative)
            info.mtime = _MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = os.readlink(path)
                if not _stays_inside(folder, path, target):
                    continue
                info.type = tarfile.SYMTYPE
                info.linkname = target
                info.mode = 0o777
                tar.addfile(info)
            elif stat.S_ISDIR(mode):
                info.type = tarfile.DIRTYPE
                info.mode = _DIR_MODE
                tar.addfile(info)
            elif stat.S_ISREG(mode):
                info.size = path.stat().st_size
                info.mode = 0o755 if mode & stat.S_IXUSR else 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            if raw.tell() > limit:
                raise ArchiveTooLargeError(_too_large(limit))
    # mtime=0 and no file name in the gzip header, for the same reason as above.
    packed = gzip.compress(raw.getvalue(), compresslevel=9, mtime=_MTIME)
    if len(packed) > limit:
        raise ArchiveTooLargeError(_too_large(limit))
    return packed


def _too_large(limit: int) -> str:
    size = f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return f"the module's files are larger than the limit of {size} (STACKYARD_MODULE_ARCHIVE_LIMIT)"


def _entries(folder: Path) -> list[Path]:
    """Every path under folder, sorted by its relative POSIX path; links to folders are not followed."""
    found: list[Path] = []
    for current, dirs, files in os.walk(folder):
        base = Path(current)
        found.extend(base / name for name in (*dirs, *files))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _stays_inside(folder: Path, link: Path, target: str) -> bool:
    if os.path.isabs(target):
        return False
    resolved = os.path.normpath(os.path.join(os.path.dirname(link), target))
    return Path(resolved).is_relative_to(folder)
