"""Running one command in its own process group, streaming its lines, and leaving nothing behind."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "OUTPUT",
    "STACKYARD",
    "STDERR",
    "CapturedOutcome",
    "LineCallback",
    "ProcessOutcome",
    "capture_command",
    "run_command",
    "shell_argv",
]

LineCallback = Callable[[str, str], None]

# Stream names passed to on_line. OUTPUT is stdout and stderr merged, in the order written.
OUTPUT = "output"
STDERR = "stderr"
STACKYARD = "stackyard"

_POLL = 0.05  # how often the waiting loop looks at the cancel event and the process
_READ_CHUNK = 64 * 1024  # a line longer than this is delivered in pieces
_EXIT_CODE_CANNOT_START = 127


@dataclass(frozen=True)
class ProcessOutcome:
    """exit_code is None when Stackyard ended the process; negative when a signal from elsewhere did."""

    exit_code: int | None
    timed_out: bool = False
    canceled: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.canceled


@dataclass(frozen=True)
class CapturedOutcome:
    outcome: ProcessOutcome
    stdout: str


def shell_argv(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: LineCallback,
    timeout: float | None,
    cancel: threading.Event | None,
    grace: float = 5.0,
) -> ProcessOutcome:
    """Stream stdout and stderr merged, as one log, in the order the process wrote them.

    on_line runs on the calling thread, so a caller's log writer need not be thread-safe.
    """
    return _run(
        argv, cwd=cwd, env=env, on_line=on_line, timeout=timeout, cancel=cancel, grace=grace, capture=False
    ).outcome


def capture_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: LineCallback,
    timeout: float | None,
    cancel: threading.Event | None,
    grace: float = 5.0,
) -> CapturedOutcome:
    """Keep stdout for the caller (machine output such as `tofu show -json`) and stream only stderr."""
    return _run(
        argv, cwd=cwd, env=env, on_line=on_line, timeout=timeout, cancel=cancel, grace=grace, capture=True
    )


def _run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: LineCallback,
    timeout: float | None,
    cancel: threading.Event | None,
    grace: float,
    capture: bool,
) -> CapturedOutcome:
    if not argv:
        raise ValueError("argv must not be empty")
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture else subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        on_line(STACKYARD, f"cannot start {argv[0]}: {error.strerror or error}")
        return CapturedOutcome(ProcessOutcome(exit_code=_EXIT_CODE_CANNOT_START), "")

    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
    captured: list[bytes] = []
    assert proc.stdout is not None
    readers = []
    if capture:
        assert proc.stderr is not None
        readers.append(_start_reader(proc.stdout, stream=None, lines=lines, captured=captured))
        readers.append(_start_reader(proc.stderr, stream=STDERR, lines=lines, captured=captured))
    else:
        readers.append(_start_reader(proc.stdout, stream=OUTPUT, lines=lines, captured=captured))

    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = canceled = False
    open_streams = len(readers)
    try:
        while not _has_exited(proc.pid):
            if cancel is not None and cancel.is_set():
                canceled = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
            open_streams -= _deliver(lines, on_line=on_line, wait=_POLL)
    finally:
        # Also after a normal exit: background children of the command must not outlive it.
        _end_process_group(proc.pid, grace=grace)
        exit_code = proc.wait()
    # The group is gone, so the pipes close; a process that escaped with setsid may still hold
    # one, hence the bound.
    drain_deadline = time.monotonic() + grace
    while open_streams > 0 and time.monotonic() < drain_deadline:
        open_streams -= _deliver(lines, on_line=on_line, wait=_POLL)
    for reader in readers:
        reader.join(timeout=0.1)
    if timed_out or canceled:
        reason = "timed out" if timed_out else "canceled"
        on_line(STACKYARD, f"{reason}: process group stopped")
    stdout = b"".join(captured).decode("utf-8", errors="replace")
    killed = timed_out or canceled
    return CapturedOutcome(
        ProcessOutcome(exit_code=None if killed else exit_code, timed_out=timed_out, canceled=canceled),
        stdout,
    )


def _start_reader(
    pipe: IO[bytes],
    *,
    stream: str | None,
    lines: queue.Queue[tuple[str, str] | None],
    captured: list[bytes],
) -> threading.Thread:
    def read() -> None:
        try:
            with pipe:
                for raw in iter(lambda: pipe.readline(_READ_CHUNK), b""):
                    if stream is None:
                        captured.append(raw)
                    else:
                        text = raw.decode("utf-8", errors="replace").removesuffix("\n").removesuffix("\r")
                        lines.put((stream, text))
        finally:
            lines.put(None)

    thread = threading.Thread(target=read, name=f"stackyard-read-{stream or 'capture'}", daemon=True)
    thread.start()
    return thread


def _deliver(lines: queue.Queue[tuple[str, str] | None], *, on_line: LineCallback, wait: float) -> int:
    """Hand queued lines to on_line; return how many streams reached their end."""
    ended = 0
    try:
        item = lines.get(timeout=wait)
    except queue.Empty:
        return 0
    while True:
        if item is None:
            ended += 1
        else:
            on_line(*item)
        try:
            item = lines.get_nowait()
        except queue.Empty:
            return ended


def _has_exited(pid: int) -> bool:
    """Look without reaping: an unreaped leader keeps its pid, and so the group id, from reuse."""
    result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return result is not None


def _end_process_group(pgid: int, *, grace: float) -> None:
    if not _live_group_members(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    if _wait_group_dead(pgid, timeout=grace):
        return
    _signal_group(pgid, signal.SIGKILL)
    _wait_group_dead(pgid, timeout=grace)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_group_dead(pgid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _live_group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)  # polling a condition with a deadline; there is no event to wait on
    return True


def _live_group_members(pgid: int) -> list[int]:
    """Members of the group that are not zombies.

    os.killpg(pgid, 0) would count zombies, which stay forever under an init that does not reap
    (a container whose PID 1 is not an init), so /proc is read instead where it exists.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may itself contain spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members
