"""Runtime: memory of one runtime hosting many idle agents, and assign-to-model latency.

* RSS — ``tt start`` runs the town's runtime in the foreground as our child
  (so we hold its PID); agents are added as ``tt spawn NAME --cli demo`` does
  (``tinytown.runtime.spawning.spawn`` in-process, for speed) and left idle.
  After each step (1, 10, 100, 1000 agents; ``--quick``: 1, 10) and a short
  settle, ``VmRSS`` is read from ``/proc/<pid>/status``, the runtime's open
  files from ``/proc/<pid>/fd`` and the Redis server's ``connected_clients``.
  The cost of one more idle agent is the slope between steps (targets: < 1 MB
  RSS, at most 2 open files and 2 Redis connections).
* assign → model start — a demo agent is given a task by ``tt assign`` (a
  subprocess, so its own start-up counts) and, separately, by
  ``Town.assign`` in-process; the time until the runtime creates the round's
  log ``.tt/logs/<name>_round_<n>.log`` (just before it starts the model
  process) is measured.

The runtime is stopped with SIGINT, as Ctrl+C would (SIGKILL after a grace
period), by PID.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from benchmarks import _town
from benchmarks._common import Outcome, Plot, Skipped, Table, bench_servers

SETTLE_S = 1.0
WAIT_S = 60.0
STOP_GRACE_S = 15.0
MAX_ROUNDS = 1000  # the default (10) would stop the demo agent during the assign runs


def require_runtime() -> None:
    """Raise :class:`Skipped` unless ``tt start`` and ``tt spawn`` exist."""
    if importlib.util.find_spec("tinytown.cli.commands.runtime") is None:
        raise Skipped("tinytown.cli.commands.runtime (tt start / tt spawn) does not exist yet")
    module = importlib.import_module("tinytown.cli.commands.runtime")
    missing = [name for name in ("start", "spawn") if not hasattr(module, name)]
    if missing:
        raise Skipped(f"tinytown.cli.commands.runtime lacks {', '.join(missing)}")


def open_files(pid: int) -> int:
    """How many file descriptors a process holds."""
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


async def _redis_clients(url: str) -> int:
    from tinytown.redis.client import open_redis

    async with open_redis(url, max_connections=1) as redis:
        info = str(await redis.execute("INFO", "clients"))
    return int(info.split("connected_clients:")[1].split()[0])


def _sample(pid: int, url: str, agents: int) -> dict[str, Any]:
    return {"agents": agents, "rss_kib": rss_kib(pid), "open_files": open_files(pid),
            "redis_clients": trio.run(_redis_clients, url)}


def rss_kib(pid: int) -> int:
    """``VmRSS`` of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _wait_runtime(root: Path, url: str, process: subprocess.Popen[bytes]) -> None:
    from tinytown.town import Town

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        pattern = town.channel.keys.pattern("runtime")
        with trio.fail_after(WAIT_S):
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"tt start exited with {process.returncode}")
                keys = await town.redis.execute("KEYS", pattern)
                if any(not k.endswith(":control") for k in keys):
                    return
                await trio.sleep(0.05)


async def _wait_states(root: Path, url: str, names: list[str], wanted: set[str]) -> None:
    from tinytown.town import Town

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        with trio.move_on_after(WAIT_S):
            while True:
                agents = {a.name: a.state.value for a in await town.list_agents()}
                if all(agents.get(name) in wanted for name in names):
                    return
                await trio.sleep(0.05)
        late = {n: agents.get(n) for n in names if agents.get(n) not in wanted}
        shown = ", ".join(f"{n}={s}" for n, s in list(late.items())[:5])
        raise RuntimeError(f"agents not {'/'.join(sorted(wanted))} after {WAIT_S:.0f}s: {shown}")


async def _spawn_async(root: Path, url: str, names: list[str]) -> None:
    from tinytown.runtime.settings import host_id
    from tinytown.runtime.spawning import spawn
    from tinytown.town import Town

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        for name in names:
            await spawn(town, name, cli="demo", max_rounds=MAX_ROUNDS, host=host_id())


def _spawn(root: Path, url: str, names: list[str]) -> None:
    """What ``tt spawn NAME --cli demo`` does, in-process (the runtime already runs)."""
    trio.run(_spawn_async, root, url, names)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl+C (agents end Stopped), then SIGKILL after a grace period; by PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def _wait_file(path: Path) -> float:
    deadline = time.perf_counter() + WAIT_S
    while not path.exists():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{path.name} did not appear within {WAIT_S:.0f}s")
        time.sleep(0.001)
    return time.perf_counter()


async def _assign_in_process(root: Path, url: str, name: str) -> None:
    from tinytown.api import Town  # the public facade (Town.agent, AgentHandle.assign)

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        handle = await town.agent(name)
        await handle.assign("Benchmark: write a short note")


async def _agent_id(root: Path, url: str, name: str) -> str:
    from tinytown.town import Town

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        aid, _ = await town.resolve(name)
    return str(aid)


def measure_assign(root: Path, url: str, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Seconds from assigning to the round log of the demo agent appearing."""
    from tinytown.runtime.agentlog import round_log_path

    name = "demo-bench"
    _spawn(root, url, [name])
    trio.run(_wait_states, root, url, [name], {"idle"})
    agent_id = trio.run(_agent_id, root, url, name)  # per-agent files are named by id
    sub, after_exit, local = "tt assign (subprocess)", "… after tt assign exited", "Town.assign"
    out: dict[str, list[float]] = {sub: [], after_exit: [], local: []}
    round_no = 0
    for index in range(2 * runs):
        round_no += 1
        log = round_log_path(root, agent_id, round_no)
        started = time.perf_counter()
        if index % 2 == 0:
            elapsed, done = _town.run_tt(["assign", name, "Benchmark: short note"], root, env)
            if done.returncode != 0:
                raise RuntimeError(f"tt assign failed: {done.stderr.strip()}")
            seen = _wait_file(log) - started
            out[sub].append(seen)
            out[after_exit].append(seen - elapsed)
        else:
            trio.run(_assign_in_process, root, url, name)
            out[local].append(_wait_file(log) - started)
        trio.run(_wait_states, root, url, [name], {"idle"})
    return out


def run(quick: bool) -> Outcome:
    require_runtime()
    steps = [1, 10] if quick else [1, 10, 100, 1000]
    runs = 2 if quick else 5
    outcome = Outcome("runtime", params={"agents": steps, "assign_runs": runs})
    rss: list[dict[str, Any]] = []
    with bench_servers("unix") as servers, tempfile.TemporaryDirectory(prefix="ttb-") as tmp:
        url = servers["unix"].url
        home = Path(tmp) / "home"
        home.mkdir()
        root = _town.make_town_dir(Path(tmp), "runtime-town")
        env = _town.tt_env(home, url)
        env["TINYTOWN_DEMO_DELAY_S"] = "0"
        process = subprocess.Popen(
            [_town.tt_executable(), "start"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            trio.run(_wait_runtime, root, url, process)
            time.sleep(SETTLE_S)
            rss.append(_sample(process.pid, url, 0))
            spawned: list[str] = []
            for count in steps:
                names = [f"idle-{i:03d}" for i in range(len(spawned), count)]
                _spawn(root, url, names)
                spawned += names
                trio.run(_wait_states, root, url, spawned, {"idle"})
                time.sleep(SETTLE_S)
                rss.append(_sample(process.pid, url, count))
            try:
                outcome.data["assign_to_model_s"] = measure_assign(root, url, env, runs)
            except Exception as exc:
                outcome.skip_part("assign → model start", f"{type(exc).__name__}: {exc}")
        finally:
            _stop(process)
    outcome.data["rss"] = rss
    outcome.tables.extend(_tables(rss, outcome.data.get("assign_to_model_s", {})))
    outcome.plots.append(Plot(
        kind="curves", name="runtime-rss", title="Runtime RSS vs idle agents",
        data={"panels": {"one runtime process": {"RSS (MiB)": {
            "x": [p["agents"] for p in rss], "y": [p["rss_kib"] / 1024 for p in rss]}}}},
        xlabel="idle agents", ylabel="MiB",
    ))  # fmt: skip
    return outcome


def _tables(rss: list[dict[str, Any]], assign: dict[str, list[float]]) -> list[Table]:
    memory = Table(
        "Runtime RSS, open files and Redis connections by idle agents",
        ["agents", "RSS MiB", "per extra agent KiB", "open files", "per extra agent",
         "Redis conns", "per extra agent"],
        note="Targets per extra idle agent: < 1 MB RSS, <= 2 open files, <= 2 connections.",
    )
    previous: dict[str, Any] | None = None
    for point in rss:
        def slope(field: str, prev: dict[str, Any] | None = previous,
                  cur: dict[str, Any] = point) -> float | None:
            if prev is None or cur["agents"] <= prev["agents"] or field not in cur:
                return None
            value: float = (cur[field] - prev[field]) / (cur["agents"] - prev["agents"])
            return round(value, 2)

        memory.rows.append(
            [
                point["agents"],
                round(point["rss_kib"] / 1024, 1),
                slope("rss_kib"),
                point.get("open_files"),
                slope("open_files"),
                point.get("redis_clients"),
                slope("redis_clients"),
            ]
        )
        previous = point
    latency = Table("Assign → model process start (ms)", ["how", "runs", "median", "min", "max"])
    for label, values in assign.items():
        ordered = sorted(values)
        latency.rows.append(
            [
                label,
                len(values),
                round(ordered[len(ordered) // 2] * 1000, 1),
                round(ordered[0] * 1000, 1),
                round(ordered[-1] * 1000, 1),
            ]
        )
    return [memory, latency] if assign else [memory]
