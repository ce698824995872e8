"""Git-like history for the double: commit graph walks, tree diffs and archives."""

from __future__ import annotations

import difflib
import io
import tarfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from .records import Commit


@dataclass(frozen=True)
class FileDiff:
    old_path: str
    new_path: str
    new_file: bool
    deleted_file: bool
    diff: str
    renamed_file: bool = False

    def as_api(self) -> dict[str, object]:
        # Field set of GET .../merge_requests/:iid/diffs and compare (GITLAB.md C6).
        return {
            "old_path": self.old_path,
            "new_path": self.new_path,
            "a_mode": "0" if self.new_file else "100644",
            "b_mode": "0" if self.deleted_file else "100644",
            "diff": self.diff,
            "new_file": self.new_file,
            "renamed_file": self.renamed_file,
            "deleted_file": self.deleted_file,
            "generated_file": False,
            "collapsed": False,
            "too_large": False,
        }


def ancestors(commits: Mapping[str, Commit], sha: str | None) -> list[str]:
    """Every commit reachable from sha, newest first (parents after children)."""
    if sha is None or sha not in commits:
        return []
    seen: set[str] = set()
    order: list[str] = []
    stack = [sha]
    while stack:
        current = stack.pop(0)
        if current in seen or current not in commits:
            continue
        seen.add(current)
        order.append(current)
        stack.extend(commits[current].parents)
    return order


def commits_between(commits: Mapping[str, Commit], base: str | None, head: str) -> list[str]:
    """Commits reachable from head but not from base, oldest first (git log base..head --reverse)."""
    excluded = set(ancestors(commits, base))
    newest_first = [sha for sha in ancestors(commits, head) if sha not in excluded]
    return list(reversed(newest_first))


def merge_base(commits: Mapping[str, Commit], left: str, right: str) -> str | None:
    right_side = set(ancestors(commits, right))
    for sha in ancestors(commits, left):
        if sha in right_side:
            return sha
    return None


def tree_changes(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(added, modified, removed) paths, as a push payload lists them per commit (GITLAB.md B2)."""
    added = sorted(path for path in new if path not in old)
    modified = sorted(path for path in new if path in old and old[path] != new[path])
    removed = sorted(path for path in old if path not in new)
    return added, modified, removed


def diff_trees(old: Mapping[str, str], new: Mapping[str, str]) -> list[FileDiff]:
    added, modified, removed = tree_changes(old, new)
    diffs: list[FileDiff] = []
    for path in sorted([*added, *modified, *removed]):
        before = old.get(path, "")
        after = new.get(path, "")
        lines = list(
            difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True), lineterm="\n"
            )
        )
        # GitLab's diff field starts at the first hunk header, without ---/+++ lines.
        body = "".join(line if line.endswith("\n") else line + "\n" for line in lines[2:])
        diffs.append(
            FileDiff(
                old_path=path,
                new_path=path,
                new_file=path in added,
                deleted_file=path in removed,
                diff=body,
            )
        )
    return diffs


def build_archive(tree: Mapping[str, str], *, top_folder: str, archive_format: str) -> bytes:
    """An archive with one top-level folder, as Workhorse serves it (GITLAB.md C6)."""
    buffer = io.BytesIO()
    if archive_format == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(tree):
                archive.writestr(f"{top_folder}/{path}", tree[path])
        return buffer.getvalue()
    mode = "w:gz" if archive_format in {"tar.gz", "tgz", "gz"} else "w"
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        folder = tarfile.TarInfo(top_folder)
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        folder.mtime = int(time.time())
        archive.addfile(folder)
        for path in sorted(tree):
            data = tree[path].encode()
            info = tarfile.TarInfo(f"{top_folder}/{path}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = folder.mtime
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
