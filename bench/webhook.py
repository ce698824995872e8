"""Webhook acknowledgement throughput and latency, beside a bare Starlette endpoint, in one run.

Usage: .venv/bin/python bench/webhook.py [--requests 3000] [--concurrency 16 64]
Starts `stackyard serve --no-worker` (embedded SQLite defaults in a temp dir) and a bare Starlette app that
only reads the body, each in its own uvicorn process on loopback, and posts a real fixture payload to both.
Every request to Stackyard carries a fresh Idempotency-Key, so every one is a new durable delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, body: bytes, headers: dict[str, str], *, total: int, concurrency: int,
               fresh_key: bool) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in counter:
                h = dict(headers)
                if fresh_key:
                    h["Idempotency-Key"] = str(uuid.uuid4())
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=h)
                latencies.append(time.perf_counter() - started)
                if response.status_code not in (200, 202):
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def report(name: str, concurrency: int, elapsed: float, latencies: list[float], cpu: float) -> float:
    latencies.sort()
    rate = len(latencies) / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{name:10} c={concurrency:3} {rate:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
          f"server CPU {cpu / len(latencies) * 1000:.3f} ms/req")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    body = FIXTURE.read_bytes()
    data = Path(tempfile.mkdtemp(prefix="stackyard-bench-"))
    env = {**os.environ, "STACKYARD_DATA_DIR": str(data), "STACKYARD_LOG_LEVEL": "WARNING"}
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "stackyard"), "token", "create", "--name", "bench"], env=env, check=True,
                   capture_output=True)
    sy_port, bare_port = free_port(), free_port()
    (data / "bare_app.py").write_text(BARE_APP)
    sy = subprocess.Popen([str(bin_dir / "stackyard"), "serve", "--no-worker", "--port", str(sy_port)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
                             "--log-level", "warning", "--no-access-log"], cwd=data,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{sy_port}/healthz")
        wait_up(f"http://127.0.0.1:{bare_port}/hook")
        token = subprocess.run([str(bin_dir / "stackyard"), "token", "create", "--name", "bench2"], env=env,
                               check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        created = httpx.post(f"http://127.0.0.1:{sy_port}/api/v1/integrations",
                             headers={"Authorization": f"Bearer {token}"},
                             json={"kind": "gitlab", "name": "gl", "api_url": "https://gitlab.example.com",
                                   "token": "glpat-bench"}).json()
        headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook",
                   "X-Gitlab-Token": created["webhook_secret"]}
        print(f"payload {len(body)} bytes, {args.requests} requests per measurement, "
              f"client and servers on one {os.cpu_count()}-core machine")
        for concurrency in args.concurrency:
            rates = {}
            for name, url, pid, fresh in (("bare", f"http://127.0.0.1:{bare_port}/hook", bare.pid, False),
                                          ("stackyard", f"http://127.0.0.1:{sy_port}/webhooks/gitlab/gl",
                                           sy.pid, True)):
                cpu_before = cpu_seconds(pid)
                elapsed, latencies = asyncio.run(load(url, body, headers, total=args.requests,
                                                      concurrency=concurrency, fresh_key=fresh))
                rates[name] = report(name, concurrency, elapsed, latencies, cpu_seconds(pid) - cpu_before)
            print(f"ratio stackyard/bare at c={concurrency}: {rates['stackyard'] / rates['bare']:.2f}x")
    finally:
        for process in (sy, bare):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
