"""Source cache and per-run workspaces: one download per commit, one private copy per run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from stackyard.runner.workspace import InvalidProjectRootError, WorkspaceCache

TOP = "infra-main-0123abcd"


def archive_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{TOP}/{name}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


FILES = {"main.tf": b"# root\n", "envs/prod/main.tf": b"# prod\n"}


class CountingDownload:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, dest: Path) -> None:
        with self.lock:
            self.calls += 1
        dest.write_bytes(self.payload)


def test_four_threads_asking_at_once_download_once(tmp_path: Path) -> None:
    """A barrier releases all four together; whoever is second waits on the key's flock."""
    cache = WorkspaceCache(tmp_path)
    download = CountingDownload(archive_bytes(FILES))
    start = threading.Barrier(4)
    results: list[Path] = []
    errors: list[BaseException] = []

    def ask() -> None:
        start.wait(timeout=10)
        try:
            results.append(cache.source_for("gitlab/42/0123abcd", download))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert download.calls == 1
    assert len(set(results)) == 1 and len(results) == 4
    assert (results[0] / "envs" / "prod" / "main.tf").read_bytes() == b"# prod\n"
    # Later calls use the cache without downloading.
    assert cache.source_for("gitlab/42/0123abcd", download) == results[0]
    assert download.calls == 1


CHILD = """
import sys
from pathlib import Path
from stackyard.runner.workspace import WorkspaceCache
payload = Path(sys.argv[2]).read_bytes()
def download(dest):
    with open(sys.argv[3], "a") as log:
        log.write("x")
    dest.write_bytes(payload)
print(WorkspaceCache(Path(sys.argv[1])).source_for("gitlab/1/abc", download))
"""


def test_worker_processes_share_one_download(tmp_path: Path) -> None:
    payload = tmp_path / "payload.tar.gz"
    payload.write_bytes(archive_bytes(FILES))
    calls = tmp_path / "calls"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / "cache"), str(payload), str(calls)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = {child.communicate(timeout=60)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert len(outputs) == 1
    assert calls.read_text() == "x"


def test_a_failed_download_leaves_nothing_and_can_be_retried(tmp_path: Path) -> None:
    cache = WorkspaceCache(tmp_path)

    def broken(dest: Path) -> None:
        dest.write_bytes(b"partial")
        raise ConnectionError("GitLab went away")

    with pytest.raises(ConnectionError):
        cache.source_for("k", broken)
    assert [p.name for p in (tmp_path / "sources").iterdir()] == []
    download = CountingDownload(archive_bytes(FILES))
    assert (cache.source_for("k", download) / "main.tf").is_file()


def test_the_cached_source_is_read_only_and_runs_get_private_copies(tmp_path: Path) -> None:
    cache = WorkspaceCache(tmp_path)
    source = cache.source_for("k", CountingDownload(archive_bytes(FILES)))
    assert not os.stat(source / "main.tf").st_mode & 0o222

    first = cache.new_workspace(1, source, "envs/prod")
    second = cache.new_workspace(2, source, "/envs/prod/")
    assert first.path == first.source / "envs" / "prod"
    assert first.path.is_relative_to(first.root) and first.home.is_relative_to(first.root)
    assert first.plan_summary_file.is_relative_to(first.root)
    (first.path / ".terraform").mkdir()
    (first.path / "main.tf").write_text("changed by run 1")
    assert not (second.path / ".terraform").exists()
    assert (second.path / "main.tf").read_text() == "# prod\n"
    assert (source / "envs" / "prod" / "main.tf").read_text() == "# prod\n"

    # The apply reopens what the plan left.
    again = cache.existing_workspace(1, "envs/prod")
    assert (again.path / ".terraform").is_dir()
    first.cleanup()
    assert not first.root.exists()
    with pytest.raises(FileNotFoundError):
        cache.existing_workspace(1, "envs/prod")
    assert cache.prune_workspaces(active_run_ids=[]) == [2]


@pytest.mark.parametrize("project_root", ["../", "envs/../../x", "missing", "main.tf", "envs/escape"])
def test_project_root_must_be_a_folder_inside_the_tree(tmp_path: Path, project_root: str) -> None:
    source = tmp_path / "src"
    (source / "envs").mkdir(parents=True)
    (source / "main.tf").write_text("")
    (source / "envs" / "escape").symlink_to(tmp_path)
    with pytest.raises(InvalidProjectRootError):
        WorkspaceCache(tmp_path / "cache").new_workspace(3, source, project_root)


@pytest.mark.parametrize("project_root", ["", ".", "/", "envs", "envs/"])
def test_project_root_forms_for_folders(tmp_path: Path, project_root: str) -> None:
    source = tmp_path / "src"
    (source / "envs").mkdir(parents=True)
    workspace = WorkspaceCache(tmp_path / "cache").new_workspace(3, source, project_root)
    assert workspace.path.is_dir()


def test_prune_keeps_what_is_asked_for(tmp_path: Path) -> None:
    cache = WorkspaceCache(tmp_path)
    payload = archive_bytes(FILES)
    kept = cache.source_for("keep", CountingDownload(payload))
    dropped = cache.source_for("drop", CountingDownload(payload))
    assert cache.prune(keep_keys=["keep"], unused_for=3600) == []  # both used just now
    assert cache.prune(keep_keys=["keep"]) == ["drop"]
    assert kept.is_dir() and not dropped.exists()
    download = CountingDownload(payload)
    cache.source_for("drop", download)
    assert download.calls == 1
