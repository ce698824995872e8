"""Webhook acknowledgement throughput and latency, beside a bare Starlette endpoint, in one run.

Usage: .venv/bin/python bench/webhook.py [--duration 10] [--rounds 3] [--concurrency 16 64] [--baseline SRC]

Starts `stackyard serve --no-worker` (embedded SQLite defaults, synchronous=FULL, in a temp dir) and a bare
Starlette app that only reads the body, each one uvicorn process on loopback, and drives both with `wrk`
(a separate C process, so the load generator is not the bottleneck) posting a real GitLab push payload.
Every request to Stackyard carries a fresh Idempotency-Key, so every one is a new durable delivery; after
each measurement the bench counts the stored rows and queue messages to show nothing was skipped.
With two or more cores, each server is pinned to CPU 0 and wrk to CPU 1 (`taskset`).
A shared machine makes single measurements jump by 20%: the two servers take turns for `--rounds`
rounds, and the summary gives the median of each figure, and the median over rounds of the ratio of the
rates and of CPU per delivery as a multiple of the bare endpoint's CPU per request (each round's pair is
measured back to back, so the host's drift between rounds cancels; the multiple also carries over between
machines of different speeds better than milliseconds do).

`--baseline SRC` also runs Stackyard from another source tree (say `git worktree add /tmp/base main` and
`--baseline /tmp/base/src`) as a third server in the same rounds, with its own database: an A/B of two
versions of the hot path that this host's drift between rounds does not swamp.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT.parent / "shared" / "fixtures" / "gitlab-webhooks" / "drone-go-scm" / "push_2_commits_merge.json"
BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def hook(request):
    await request.body()
    return Response(status_code=202)

app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
"""
# wrk's Lua: POST the fixture with GitLab's headers, a unique Idempotency-Key per request, and print a
# JSON summary (latency in microseconds) that this script reads back.
WRK_SCRIPT = """
local body = io.open(os.getenv("BENCH_BODY")):read("*a")
local run = os.getenv("BENCH_RUN")
local threads = 0
local counter = 0
local headers = {
  ["Content-Type"] = "application/json",
  ["X-Gitlab-Event"] = "Push Hook",
  ["X-Gitlab-Token"] = os.getenv("BENCH_TOKEN"),
  ["User-Agent"] = "GitLab/18.6.0",
}
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function request()
  counter = counter + 1
  headers["Idempotency-Key"] = run .. "-" .. id .. "-" .. counter
  return wrk.format("POST", nil, headers, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Result:
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    requests: int


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    """Polls until the server we started answers (bounded): a readiness check, not synchronisation."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package)...", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("wrk")
    if not found:
        sys.exit("bench/webhook.py needs wrk: apt-get install wrk (or brew install wrk)")
    return found


def pinned(cpu: int, argv: list[str]) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *argv]
    return argv


def cpu_seconds(pid: int) -> float:
    """User + system time of the whole process (every thread), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(wrk: str, url: str, *, concurrency: int, duration: float, env: dict[str, str]) -> dict[str, int]:
    threads = 2 if concurrency >= 32 else 1
    argv = pinned(1, [wrk, "-t", str(threads), "-c", str(concurrency), "-d", f"{int(duration)}s",
                      "--timeout", "10s", "-s", env["BENCH_SCRIPT"], url])
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    summary: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return summary


def measure(wrk: str, url: str, pid: int, *, concurrency: int, duration: float, env: dict[str, str]) -> Result:
    before = cpu_seconds(pid)
    summary = run_wrk(wrk, url, concurrency=concurrency, duration=duration, env=env)
    cpu = cpu_seconds(pid) - before
    if summary["status_errors"] or summary["socket_errors"]:
        raise RuntimeError(f"{url}: {summary['status_errors']} non-2xx answers, {summary['socket_errors']} "
                           "socket errors")
    requests = summary["requests"]
    return Result(
        rate=requests / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        cpu_ms=cpu / requests * 1000,
        requests=requests,
    )


def median_of(rounds: list[Result]) -> Result:
    return Result(
        rate=statistics.median(r.rate for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        cpu_ms=statistics.median(r.cpu_ms for r in rounds),
        requests=sum(r.requests for r in rounds),
    )


def show(name: str, concurrency: int, result: Result) -> None:
    print(f"{name:18} c={concurrency:<3} {result.rate:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
          f"p99 {result.p99_ms:6.2f} ms  server CPU {result.cpu_ms:.3f} ms/req", flush=True)


def stored(data: Path) -> tuple[int, int]:
    """(deliveries in the database, messages in the queue): the proof that every 202 was durable."""
    with sqlite3.connect(data / "stackyard.db") as db:
        deliveries = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    with sqlite3.connect(data / "queue.db") as queue:
        messages = queue.execute("SELECT count(*) FROM task").fetchone()[0]
    return int(deliveries), int(messages)


def start_stackyard(
    bin_dir: Path, data: Path, *, source: Path | None = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """`stackyard serve --no-worker` on a fresh data dir, with one integration: (process, webhook URL, its secret).

    `source` runs the code of another checkout's `src` (on PYTHONPATH, ahead of this one's editable install).
    """
    env = {**os.environ, "STACKYARD_DATA_DIR": str(data), "STACKYARD_LOG_LEVEL": "WARNING"}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    token = subprocess.run([str(bin_dir / "stackyard"), "token", "create", "--name", "bench"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(pinned(0, [str(bin_dir / "stackyard"), "serve", "--no-worker", "--port", str(port)]),
                               env=env, stdout=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/healthz")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/integrations", method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=json.dumps({"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com",
                         "token": "glpat-bench"}).encode())
    with urllib.request.urlopen(request) as answer:
        secret = json.load(answer)["webhook_secret"]
    return process, f"http://127.0.0.1:{port}/webhooks/gitlab/gl", secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per server and concurrency, taking turns")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory, measured in the same rounds")
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "stackyard" / "__init__.py").is_file():
        sys.exit(f"--baseline {args.baseline}: no stackyard package there (give the checkout's src directory)")
    wrk = find_wrk()
    root = Path(tempfile.mkdtemp(prefix="stackyard-bench-"))
    bin_dir = Path(sys.executable).parent
    bare_port = free_port()
    (root / "bare_app.py").write_text(BARE_APP)
    (root / "bench.lua").write_text(WRK_SCRIPT)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        bare = subprocess.Popen(pinned(0, [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
                                           "--log-level", "warning", "--no-access-log"]),
                                cwd=root, stdout=subprocess.DEVNULL)
        processes.append(bare)
        wait_up(f"http://127.0.0.1:{bare_port}/hook")
        # name -> (webhook URL, pid, data dir, X-Gitlab-Token); the bare endpoint ignores the token.
        targets: dict[str, tuple[str, int, Path | None, str]] = {"bare": (f"http://127.0.0.1:{bare_port}/hook",
                                                                          bare.pid, None, "")}
        servers = {"stackyard": None} if args.baseline is None else {"stackyard": None, "baseline": args.baseline}
        for name, source in servers.items():
            data = root / name
            data.mkdir()
            process, url, secret = start_stackyard(bin_dir, data, source=source)
            processes.append(process)
            targets[name] = (url, process.pid, data, secret)
        wrk_env = {**os.environ, "BENCH_BODY": str(FIXTURE), "BENCH_SCRIPT": str(root / "bench.lua")}
        print(f"payload {FIXTURE.name} ({FIXTURE.stat().st_size} bytes), {args.duration} s per measurement, "
              f"wrk and one uvicorn process per server on one {os.cpu_count()}-core machine")
        for name, (url, _pid, _data, secret) in targets.items():  # warm-up: imports, caches, SQLite pages
            run_wrk(wrk, url, concurrency=16, duration=2,
                    env={**wrk_env, "BENCH_TOKEN": secret, "BENCH_RUN": "warm-" + name})
        for concurrency in args.concurrency:
            results: dict[str, list[Result]] = {name: [] for name in targets}
            for _round in range(args.rounds):
                for name, (url, pid, data_dir, secret) in targets.items():
                    run_env = {**wrk_env, "BENCH_TOKEN": secret, "BENCH_RUN": uuid.uuid4().hex[:8]}
                    before = stored(data_dir) if data_dir else (0, 0)
                    result = measure(wrk, url, pid, concurrency=concurrency, duration=args.duration, env=run_env)
                    results[name].append(result)
                    show(name, concurrency, result)
                    if data_dir:
                        deliveries, messages = stored(data_dir)
                        new, batches = deliveries - before[0], messages - before[1]
                        print(f"{'':10} stored {new} deliveries ({result.requests} answers counted by wrk) "
                              f"in {batches} queue messages ({new / max(batches, 1):.1f} deliveries per batch)")
            medians = {name: median_of(rounds) for name, rounds in results.items()}
            for name, result in medians.items():
                show(f"{name} (median)", concurrency, result)
            for name in servers:
                # Each round's pair was measured back to back, so the host's drift between rounds (the bare
                # endpoint itself can slow by half for a minute) cancels within a pair; medians of the two
                # columns taken apart could come from rounds in different states of the host.
                pairs = list(zip(results[name], results["bare"], strict=True))
                ratio = statistics.median(mine.rate / bare.rate for mine, bare in pairs)
                multiple = statistics.median(mine.cpu_ms / bare.cpu_ms for mine, bare in pairs)
                print(f"ratio {name}/bare at c={concurrency}: {ratio:.2f}x (median of {args.rounds} rounds' ratios)")
                # Milliseconds depend on the machine; the multiple of what the bare endpoint costs on it does less.
                print(f"CPU per delivery of {name} at c={concurrency}: {medians[name].cpu_ms:.3f} ms, {multiple:.1f}x "
                      f"the bare endpoint's (median of {args.rounds} rounds' multiples; bare "
                      f"{medians['bare'].cpu_ms:.3f} ms per request)", flush=True)
            if args.baseline is not None:
                wins = sum(new.cpu_ms < old.cpu_ms for new, old in zip(results["stackyard"], results["baseline"],
                                                                        strict=True))
                print(f"stackyard against baseline at c={concurrency}: CPU per delivery "
                      f"{medians['stackyard'].cpu_ms / medians['baseline'].cpu_ms - 1:+.0%}, lower in {wins} of "
                      f"{args.rounds} rounds; rate {medians['stackyard'].rate / medians['baseline'].rate - 1:+.0%}",
                      flush=True)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
