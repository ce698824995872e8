"""Unpacking GitLab repository archives: the repository comes out, nothing escapes."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from stackyard.runner.archive import UnsafeArchiveError, safe_extract_tar_gz

TOP = "infra-0123abcd-0123abcd0123abcd0123abcd0123abcd0123abcd"


def make_archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    # GitLab's archives start with a pax global header holding the commit id; keep that shape.
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": "0123abcd"}) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def folder(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def link(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def test_good_archive_extracts_below_gitlabs_top_folder(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "a.tar.gz",
        [
            folder(f"{TOP}/"),
            file(f"{TOP}/README.md", b"hello"),
            folder(f"{TOP}/modules/"),
            file(f"{TOP}/modules/main.tf", b"resource {}"),
            file(f"{TOP}/run.sh", b"#!/bin/sh\n", mode=0o755),
            link(f"{TOP}/modules/common.tf", "../README.md"),
        ],
    )
    root = safe_extract_tar_gz(archive, tmp_path / "out")
    assert root == tmp_path / "out" / TOP
    assert (root / "README.md").read_bytes() == b"hello"
    assert (root / "modules" / "main.tf").read_bytes() == b"resource {}"
    assert (root / "modules" / "common.tf").resolve() == (root / "README.md").resolve()
    assert (root / "run.sh").stat().st_mode & 0o100


def test_archive_without_a_single_top_folder_returns_dest(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", [file("a.txt"), file("b/c.txt")])
    assert safe_extract_tar_gz(archive, tmp_path / "out") == tmp_path / "out"


@pytest.mark.parametrize(
    "member",
    [
        file(f"{TOP}/../../escape.txt"),
        file("../escape.txt"),
        file(f"{TOP}/a/../../../escape.txt"),
        file("/etc/stackyard-escape"),
        link(f"{TOP}/etc", "/etc"),
        link(f"{TOP}/up", "../../.."),
        link(f"{TOP}/passwd", "/etc/passwd", hard=True),
        link(f"{TOP}/out", "../outside", hard=True),
        special(f"{TOP}/dev", tarfile.CHRTYPE),
        special(f"{TOP}/disk", tarfile.BLKTYPE),
        special(f"{TOP}/pipe", tarfile.FIFOTYPE),
    ],
    ids=[
        "dotdot-in-top",
        "dotdot",
        "dotdot-deep",
        "absolute",
        "symlink-to-etc",
        "symlink-up",
        "hardlink-absolute",
        "hardlink-up",
        "char-device",
        "block-device",
        "fifo",
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_written_outside(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None]
) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", [folder(f"{TOP}/"), file(f"{TOP}/ok.txt"), member])
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError):
        safe_extract_tar_gz(archive, dest)
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "deep" / "escape.txt").exists()
    assert not any(dest.iterdir())  # checked before anything was written


def test_link_chain_out_is_caught_by_the_data_filter(tmp_path: Path) -> None:
    """A symlink that looks inside by name but leads out through another symlink."""
    archive = make_archive(
        tmp_path / "a.tar.gz",
        [
            link(f"{TOP}/up", "."),
            link(f"{TOP}/sub/deeper", "../up/../.."),
        ],
    )
    with pytest.raises(UnsafeArchiveError):
        safe_extract_tar_gz(archive, tmp_path / "out")


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "a.tar.gz"
    bogus.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(UnsafeArchiveError, match="readable"):
        safe_extract_tar_gz(bogus, tmp_path / "out")


def test_size_limit(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", [file("big", b"x" * 1000)])
    with pytest.raises(UnsafeArchiveError, match="bytes"):
        safe_extract_tar_gz(archive, tmp_path / "out", max_total_bytes=100)
