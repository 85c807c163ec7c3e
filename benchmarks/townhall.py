"""Townhall REST throughput and latency, beside the CLI doing the same operations.

A real ``townhall`` process (pinned to one CPU when the machine has two or
more) serves a town with a few agents on its own redis-server. The load
generator (the other CPU) keeps ``CONCURRENCY`` keep-alive HTTP/1.1
connections busy on raw Trio sockets and times every request: requests/s
and p50/p99 of ``GET /v1/status`` and ``POST /v1/messages/send``. The same
operations through the CLI are ``tt status`` and ``tt send`` as fresh
processes (each is one operation per process: its rate is 1/median).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import trio

from benchmarks import _town
from benchmarks._common import Outcome, Plot, Table, median, start_server, summarize_ns

CONCURRENCY = 4
LISTENING = re.compile(r"REST API listening on http://([\d.]+):(\d+)")
START_TIMEOUT_S = 60


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, {cpus[1]}


def _start_townhall(root: Path, env: dict[str, str], cpu: set[int] | None, log: Path
                    ) -> tuple[subprocess.Popen[bytes], str, int]:
    """Start ``townhall -p 0`` logging to ``log`` (a pipe nobody reads would fill and block it)."""
    exe = Path(_town.tt_executable()).with_name("townhall")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "-t", str(root), "-p", "0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=out)
    if cpu is not None:
        os.sched_setaffinity(proc.pid, cpu)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        found = LISTENING.search(log.read_text(errors="replace"))
        if found:
            return proc, found.group(1), int(found.group(2))
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"townhall did not start: {log.read_text(errors='replace')[-500:]}")


def _request(method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + data


async def _read_response(stream: trio.SocketStream, buf: bytearray) -> int:
    while b"\r\n\r\n" not in buf:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).split(b"\r\n")
    status = int(head[0].split()[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < end + 4 + length:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    del buf[: end + 4 + length]
    return status


async def _load(host: str, port: int, request: bytes, total: int, want: int
                ) -> tuple[list[int], float]:
    """``total`` requests over CONCURRENCY connections; per-request ns and wall seconds."""
    samples: list[int] = []
    left = [total]

    async def worker() -> None:
        stream = await trio.open_tcp_stream(host, port)
        buf = bytearray()
        async with stream:
            while left[0] > 0:
                left[0] -= 1
                started = perf_counter_ns()
                await stream.send_all(request)
                status = await _read_response(stream, buf)
                samples.append(perf_counter_ns() - started)
                if status != want:
                    raise RuntimeError(f"unexpected HTTP {status}")

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(CONCURRENCY):
            nursery.start_soon(worker)
    return samples, time.perf_counter() - started


def _cli_medians(root: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    commands = {"status": ["status"], "send": ["send", "worker-0000", "bench message", "--info"]}
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for name, args in commands.items():
            elapsed, done = _town.run_tt(args, root, env)
            if done.returncode != 0:
                raise RuntimeError(f"tt {' '.join(args)} failed: {done.stderr.strip()[-200:]}")
            times[name].append(elapsed)
    return {k: median(v) for k, v in times.items()}


def run(quick: bool) -> Outcome:
    outcome = Outcome("townhall")
    total = 300 if quick else 3000
    cli_runs = 3 if quick else 10
    outcome.params = {"requests": total, "concurrency": CONCURRENCY, "cli_runs": cli_runs}
    server_cpu, client_cpu = _cpus()
    with tempfile.TemporaryDirectory(prefix="tt-bench-th-") as tmp:
        base = Path(tmp)
        redis = start_server("unix", base)
        proc: subprocess.Popen[bytes] | None = None
        old_affinity = os.sched_getaffinity(0) if client_cpu else None
        try:
            root = _town.make_town_dir(base, "bench-townhall")
            home = base / "home"
            home.mkdir()
            env = _town.tt_env(home, redis.url)

            async def seed() -> None:
                from tinytown.town import Town

                async with Town.connect(root, env=env) as town:
                    await _town.seed(town, agents=3, tasks=12)

            trio.run(seed)
            proc, host, port = _start_townhall(root, env, server_cpu, base / "townhall.log")
            if client_cpu is not None:
                os.sched_setaffinity(0, client_cpu)
            send = _request("POST", "/v1/messages/send",
                            {"to": "worker-0000", "message": "bench message", "kind": "info"})
            rows = {}
            for label, request, want in (("GET /v1/status", _request("GET", "/v1/status"), 200),
                                         ("POST /v1/messages/send", send, 201)):
                trio.run(_load, host, port, request, max(total // 10, 20), want)  # warm-up
                samples, wall = trio.run(_load, host, port, request, total, want)
                rows[label] = (samples, wall)
            if old_affinity is not None:
                os.sched_setaffinity(0, old_affinity)
            cli = _cli_medians(root, env, cli_runs)
        finally:
            if old_affinity is not None:
                os.sched_setaffinity(0, old_affinity)
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
            redis.stop()
    table = Table(
        "Townhall REST vs the CLI (same operation)",
        ["operation", "REST req/s", "REST p50 ms", "REST p99 ms", "CLI median ms", "CLI ops/s",
         "REST/CLI rate"],
    )
    cli_of = {"GET /v1/status": cli["status"], "POST /v1/messages/send": cli["send"]}
    for label, (samples, wall) in rows.items():
        stats = summarize_ns(samples)
        rate = len(samples) / wall
        cli_s = cli_of[label]
        table.rows.append([label, round(rate), round(stats["p50_us"] / 1000, 2),
                           round(stats["p99_us"] / 1000, 2), round(cli_s * 1000, 1),
                           round(1 / cli_s, 1), round(rate * cli_s, 1)])
        outcome.data[label] = {"rps": rate, **stats, "cli_median_s": cli_s}
    table.note = (f"{CONCURRENCY} keep-alive connections; townhall pinned to one CPU "
                  f"({'yes' if server_cpu else 'no: fewer than 2 CPUs'}). The CLI runs one "
                  "operation per process (interpreter start-up included).")
    outcome.tables.append(table)
    outcome.plots.append(Plot("distribution", "townhall_latency", "Townhall request latency",
                              {"panels": {"REST, keep-alive": {
                                  k: [s / 1e6 for s in v[0]] for k, v in rows.items()}}},
                              xlabel="ms", ylabel="fraction ≤ x"))
    return outcome
