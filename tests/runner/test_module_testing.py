"""Testing a module (commands, and the opentofu/terraform family) and packing it for the registry."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from stackyard.runner.module_archive import ArchiveTooLargeError, pack_module
from stackyard.runner.vendors import TESTERS
from support.run_setup import RunSetupFactory

MODULE = """\
variable "name" {
  type = string
}
resource "terraform_data" "this" {
  input = "hello ${var.name}"
}
output "greeting" {
  value = terraform_data.this.input
}
"""


def tftest(expected: str) -> str:
    return f"""\
variables {{
  name = "world"
}}
run "greets" {{
  command = plan
  assert {{
    condition     = output.greeting == "{expected}"
    error_message = "wrong greeting"
  }}
}}
"""


def test_commands_run_in_order_and_stop_at_the_first_failure(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"mod/main.tf": "# m\n"}, project_root="mod", secrets={"TOKEN": "s3cret-value"})
    passed = TESTERS["commands"].test(setup.context(commands={"test": ["test -f main.tf", "echo ok $TOKEN"]}))
    assert passed.exit_ok and "ok ***" in setup.log.text and "s3cret-value" not in setup.log.text
    failed = TESTERS["commands"].test(setup.context(commands={"test": ["false", "echo never"]}))
    assert not failed.exit_ok and "never" not in setup.log.text


def test_a_slow_test_is_stopped_at_the_time_limit(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"main.tf": ""})
    result = TESTERS["commands"].test(setup.context(commands={"test": ["exec sleep 30"]}, timeout=0.2))
    assert result.timed_out and not result.exit_ok


def fake_tofu(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "tofu"
    script.write_text(f'#!/bin/sh\necho "$*" >> {folder}/calls\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.mark.parametrize(("files", "runs_test"), [
    ({"main.tf": ""}, False),
    ({"main.tf": "", "main.tftest.hcl": ""}, True),
    ({"main.tf": "", "tests/basic.tftest.hcl": ""}, True),
])
def test_opentofu_inits_without_a_backend_validates_and_tests_when_there_are_test_files(
    run_setup: RunSetupFactory, tmp_path: Path, files: dict[str, str], runs_test: bool
) -> None:
    tools = fake_tofu(tmp_path / "tools")
    setup = run_setup(files, extra_path=[str(tools)])
    assert TESTERS["opentofu"].test(setup.context()).exit_ok
    expected = ["init -backend=false -input=false -no-color", "validate -no-color"]
    assert (tools / "calls").read_text().splitlines() == expected + (["test -no-color"] if runs_test else [])


def test_opentofu_without_its_binary_fails(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"main.tf": ""})
    assert not TESTERS["opentofu"].test(setup.context()).exit_ok
    assert "tofu not found" in setup.log.text


@pytest.mark.skipif(
    shutil.which("terraform", path="/usr/local/bin:/usr/bin:/bin") is None, reason="no terraform"
)
def test_real_terraform_validates_and_runs_the_module_tests(run_setup: RunSetupFactory) -> None:
    setup = run_setup({"mod/main.tf": MODULE, "mod/main.tftest.hcl": tftest("hello world")}, project_root="mod")
    result = TESTERS["terraform"].test(setup.context())
    assert result.exit_ok, setup.log.text
    assert "1 passed, 0 failed" in setup.log.text

    (setup.workspace.path / "main.tftest.hcl").write_text(tftest("goodbye"))
    assert not TESTERS["terraform"].test(setup.context()).exit_ok
    assert "wrong greeting" in setup.log.text


def members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_packing_is_deterministic_and_keeps_only_the_folder(tmp_path: Path) -> None:
    module = tmp_path / "module"
    (module / "files").mkdir(parents=True)
    (module / "main.tf").write_text("# main\n")
    (module / "files" / "run.sh").write_text("#!/bin/sh\n")
    (module / "files" / "run.sh").chmod(0o700)
    os.symlink("main.tf", module / "alias.tf")
    os.symlink("../../outside.txt", module / "files" / "escape")
    first = pack_module(module, limit=1 << 20)
    os.utime(module / "main.tf", (1, 1))  # times and owners never reach the archive
    assert pack_module(module, limit=1 << 20) == first
    found = members(first)
    assert sorted(found) == ["alias.tf", "files", "files/run.sh", "main.tf"]
    assert found["files/run.sh"].mode == 0o755 and found["main.tf"].mode == 0o644
    assert found["alias.tf"].issym() and found["alias.tf"].linkname == "main.tf"
    assert {(m.mtime, m.uid, m.gid) for m in found.values()} == {(0, 0, 0)}


def test_packing_refuses_a_module_over_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(64 * 1024))
    with pytest.raises(ArchiveTooLargeError, match="larger than the limit"):
        pack_module(tmp_path, limit=16 * 1024)
