"""End to end: tasks/s and CPU per task with 1, 4 and 16 demo agents; fds and connections.

For each agent count a fresh runtime (``tt start`` in the foreground, our
child, with its command server) hosts N demo agents (``TINYTOWN_DEMO_DELAY_S=0``).
Once they are idle, ``tasks`` tasks are assigned round-robin (in-process) and
the clock runs until every one is completed. CPU per task is the CPU of the
runtime and everything it started (models, ``tt`` commands, the command
server), read from ``os.times()`` after the runtime exits, divided by the
tasks. Repeats are interleaved (1, 4, 16, 1, 4, 16…).

The *process floor*: the same number of tasks where each task is one trivial
Python process (``python -c pass``), N at a time — what any design that starts
one Python process per task cannot beat. Target: tasks/s ≥ 0.5× that floor.

Before the tasks, the runtime's open file descriptors (``/proc/PID/fd``) and
the Redis connections (``CLIENT LIST`` minus ours) are counted with the N
agents idle; their slope over N is the per-agent cost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import trio

from benchmarks import _town
from benchmarks._common import Outcome, Table, bench_servers, median, ratio
from benchmarks.runtime_mem import (
    SETTLE_S,
    WAIT_S,
    _spawn,
    _stop,
    _wait_runtime,
    _wait_states,
    require_runtime,
)

TARGET = 0.5


async def _assign_and_wait(root: Path, url: str, names: list[str], tasks: int) -> float:
    """Assign ``tasks`` round-robin and wait until all are completed; seconds taken."""
    from tinytown.services import tasks as task_service
    from tinytown.town import Town

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        started = time.perf_counter()
        ids = []
        for i in range(tasks):
            done = await task_service.assign(town, names[i % len(names)], f"Bench task {i}")
            ids.append(done.task.id)
        keys = [town.channel.keys.task(t) for t in ids]
        with trio.fail_after(WAIT_S * 5):
            while True:
                pipe = town.redis.pipeline()
                for key in keys:
                    pipe.cmd("HGET", key, "state")
                states = await pipe.execute()
                if all(s == "completed" for s in states):
                    return time.perf_counter() - started
                await trio.sleep(0.02)


async def _redis_clients(url: str) -> int:
    from tinytown.redis.client import open_redis
    from tinytown.redis.url import parse_url

    async with open_redis(parse_url(url)) as redis:
        listing: str = await redis.execute("CLIENT", "LIST")
    return len(listing.strip().splitlines()) - 1  # minus this connection


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def one_run(agents: int, tasks: int) -> dict[str, Any]:
    """One fresh runtime with ``agents`` demo agents completing ``tasks`` tasks."""
    with bench_servers("unix") as servers, tempfile.TemporaryDirectory(prefix="ttb-") as tmp:
        url = servers["unix"].url
        home = Path(tmp) / "home"
        home.mkdir()
        root = _town.make_town_dir(Path(tmp), "e2e-town")
        env = _town.tt_env(home, url)
        env["TINYTOWN_DEMO_DELAY_S"] = "0"
        cpu_before = os.times()
        process = subprocess.Popen([_town.tt_executable(), "start"], cwd=root, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            trio.run(_wait_runtime, root, url, process)
            time.sleep(SETTLE_S)
            fds0, conns0 = _fds(process.pid), trio.run(_redis_clients, url)
            names = [f"demo-{i:02d}" for i in range(agents)]
            _spawn(root, url, names)
            trio.run(_wait_states, root, url, names, {"idle"})
            time.sleep(SETTLE_S)
            fds, conns = _fds(process.pid), trio.run(_redis_clients, url)
            seconds = trio.run(_assign_and_wait, root, url, names, tasks)
        finally:
            _stop(process)
        cpu_after = os.times()
    cpu = (cpu_after.children_user + cpu_after.children_system
           - cpu_before.children_user - cpu_before.children_system)
    return {"agents": agents, "tasks": tasks, "seconds": seconds, "cpu_s": cpu,
            "fds_idle": fds0, "fds": fds, "redis_clients_idle": conns0, "redis_clients": conns}


def process_floor(agents: int, tasks: int) -> float:
    """Seconds for ``tasks`` trivial Python processes, ``agents`` at a time."""
    def one(_: int) -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=agents) as pool:
        list(pool.map(one, range(tasks)))
    return time.perf_counter() - started


def run(quick: bool) -> Outcome:
    require_runtime()
    counts = [1, 4] if quick else [1, 4, 16]
    repeats = 1 if quick else 2
    per_agent = 4 if quick else 8
    outcome = Outcome("e2e", params={"agents": counts, "repeats": repeats,
                                     "tasks_per_agent": per_agent})
    runs: list[dict[str, Any]] = []
    floors: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(repeats):
        for n in counts:
            tasks = per_agent * n
            try:
                runs.append(one_run(n, tasks))
            except Exception as exc:
                outcome.skip_part(f"{n} agents", f"{type(exc).__name__}: {exc}")
                continue
            floors[n].append(tasks / process_floor(n, tasks))
    outcome.data["runs"] = runs
    outcome.data["floor_tasks_per_s"] = floors
    outcome.tables += _tables(counts, runs, floors)
    return outcome


def _tables(counts: list[int], runs: list[dict[str, Any]],
            floors: dict[int, list[float]]) -> list[Table]:
    speed = Table("End-to-end throughput with demo agents (median of repeats)",
                  ["agents", "tasks", "tasks/s", "CPU ms per task", "process floor tasks/s",
                   "vs floor", "target", "met"])
    files = Table("Runtime fds and Redis connections, idle agents",
                  ["agents", "runtime fds", "fds per agent", "Redis connections",
                   "connections per agent"])
    for n in counts:
        mine = [r for r in runs if r["agents"] == n]
        if not mine:
            continue
        rate = median([r["tasks"] / r["seconds"] for r in mine])
        cpu = median([r["cpu_s"] / r["tasks"] for r in mine])
        floor = median(floors[n]) if floors[n] else None
        r_floor = ratio(rate, floor)
        met = "" if r_floor is None else ("yes" if r_floor >= TARGET else "NO")
        speed.rows.append([n, mine[0]["tasks"], round(rate, 2), round(cpu * 1000, 1),
                           None if floor is None else round(floor, 2),
                           None if r_floor is None else round(r_floor, 2), f"≥ {TARGET}×", met])
        first = mine[0]
        files.rows.append([n, first["fds"], round((first["fds"] - first["fds_idle"]) / n, 2),
                           first["redis_clients"],
                           round((first["redis_clients"] - first["redis_clients_idle"]) / n, 2)])
    return [speed, files]
