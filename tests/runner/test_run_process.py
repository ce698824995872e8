"""Running a command: lines as they come, exit codes, and a whole process group stopped."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stackyard.runner.process import ProcessOutcome, capture_command, run_command, shell_argv

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def is_running(pid: int) -> bool:
    """A zombie counts as gone: this sandbox's PID 1 never reaps orphans, a real init does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_until(condition: Callable[[], bool], *, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Lines:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.arrived = threading.Condition()

    def __call__(self, stream: str, line: str) -> None:
        with self.arrived:
            self.items.append((stream, line))
            self.arrived.notify_all()

    def output(self) -> list[str]:
        return [line for stream, line in self.items if stream == "output"]


def run(
    command: str, tmp_path: Path, *, timeout: float = 30.0, grace: float = 5.0
) -> tuple[int | None, bool, bool, Lines]:
    lines = Lines()
    outcome = run_command(
        shell_argv(command), cwd=tmp_path, env=ENV, on_line=lines, timeout=timeout, cancel=None, grace=grace
    )
    return outcome.exit_code, outcome.timed_out, outcome.canceled, lines


def test_lines_stream_in_order_with_stderr_merged(tmp_path: Path) -> None:
    code, timed_out, canceled, lines = run(
        "echo one; echo two >&2; printf 'three\\r\\nno-newline'; echo; printf 'last'", tmp_path
    )
    assert (code, timed_out, canceled) == (0, False, False)
    assert lines.output() == ["one", "two", "three", "no-newline", "last"]


def test_lines_arrive_while_the_process_runs(tmp_path: Path) -> None:
    """The callback sees "ready" before the process is told to finish, so nothing is buffered to the end."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    seen_ready = threading.Event()

    def on_line(stream: str, line: str) -> None:
        if line == "ready":
            seen_ready.set()
            # Unblock the command only now: it waits for this before printing "done".
            with open(fifo, "w") as pipe:
                pipe.write("go\n")

    outcome = run_command(
        shell_argv(f"echo ready; read x < {fifo}; echo done"),
        cwd=tmp_path,
        env=ENV,
        on_line=on_line,
        timeout=30,
        cancel=None,
    )
    assert seen_ready.is_set()
    assert outcome.exit_code == 0


@pytest.mark.parametrize("code", [0, 1, 2, 42, 255])
def test_exit_codes(tmp_path: Path, code: int) -> None:
    assert run(f"exit {code}", tmp_path)[0] == code


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    code, _, _, lines = run("printf 'a\\377b\\n'", tmp_path)
    assert code == 0
    assert lines.output() == ["a\ufffdb"]


def test_a_missing_program_is_reported_as_a_line(tmp_path: Path) -> None:
    lines = Lines()
    outcome = run_command(["/nonexistent/tool"], cwd=tmp_path, env=ENV, on_line=lines, timeout=5, cancel=None)
    assert outcome.exit_code == 127
    assert lines.items[0][0] == "stackyard"


def test_timeout_kills_the_whole_group_including_a_grandchild(tmp_path: Path) -> None:
    # The grandchild ignores SIGTERM, so only the SIGKILL after the grace period can end it.
    code, timed_out, canceled, lines = run(
        "sh -c 'trap \"\" TERM; sleep 300 & echo $!; wait' & wait", tmp_path, timeout=1.0, grace=0.5
    )
    assert (code, timed_out, canceled) == (None, True, False)
    grandchild = int(lines.output()[0])
    assert wait_until(lambda: not is_running(grandchild))


def test_cancel_event_stops_the_group(tmp_path: Path) -> None:
    cancel = threading.Event()
    lines = Lines()
    result: dict[str, ProcessOutcome] = {}

    def target() -> None:
        result["outcome"] = run_command(
            shell_argv("sleep 300 & echo $!; wait"),
            cwd=tmp_path,
            env=ENV,
            on_line=lines,
            timeout=None,
            cancel=cancel,
        )

    thread = threading.Thread(target=target)
    thread.start()
    with lines.arrived:
        assert lines.arrived.wait_for(lambda: lines.output(), timeout=10)
    grandchild = int(lines.output()[0])
    assert is_running(grandchild)
    cancel.set()
    thread.join(timeout=15)
    assert not thread.is_alive()
    outcome = result["outcome"]
    assert outcome.canceled and outcome.exit_code is None
    assert not is_running(grandchild)


def test_background_children_do_not_outlive_a_finished_command(tmp_path: Path) -> None:
    code, _, _, lines = run("sleep 300 >/dev/null & echo $!", tmp_path)
    assert code == 0
    assert wait_until(lambda: not is_running(int(lines.output()[0])))


def test_capture_keeps_stdout_and_streams_only_stderr(tmp_path: Path) -> None:
    lines = Lines()
    captured = capture_command(
        shell_argv("echo '{\"a\": 1}'; echo warning >&2"),
        cwd=tmp_path,
        env=ENV,
        on_line=lines,
        timeout=10,
        cancel=None,
    )
    assert captured.outcome.ok
    assert captured.stdout == '{"a": 1}\n'
    assert lines.items == [("stderr", "warning")]


def test_runs_in_cwd_with_only_the_given_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-x")
    _, _, _, lines = run('pwd; echo "token=${GITLAB_TOKEN:-none}"', tmp_path)
    assert lines.output() == [str(tmp_path), "token=none"]
