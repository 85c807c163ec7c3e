"""Open files that scale: 1,000 demo agents in one runtime started at ``ulimit -n 1024``.

* soft limit 1,024, hard limit higher: the runtime raises its soft limit, all
  1,000 agents reach Idle holding at most two open files each, and 100 tasks
  all complete; the figures (open files, Redis connections, RSS per agent) are
  printed and recorded;
* soft and hard limit 1,024: a spawn past the runtime's capacity is refused
  with a clear error before anything is registered, a start that reaches the
  runtime anyway leaves the agent Stopped with the reason, and no agent ends in
  Error.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _rt_support import RtTown, rt_town_fixture, until  # noqa: F401

from tinytown.errors import CapacityError
from tinytown.runtime.capacity import FD_RESERVE, capacity_for
from tinytown.runtime.settings import host_id
from tinytown.runtime.spawning import spawn
from tinytown.services import tasks
from tinytown.services.registration import register_agent
from tinytown.town import Town

PRLIMIT = shutil.which("prlimit")
pytestmark = pytest.mark.skipif(PRLIMIT is None or not Path("/proc/self/fd").exists(),
                                reason="needs prlimit and /proc (Linux)")


def _start_limited(rt_town: RtTown, soft: int, hard: int) -> subprocess.Popen[bytes]:
    out = open(rt_town.root / ".tt" / "logs" / "test-runtime.log", "ab")
    proc = subprocess.Popen(
        [str(PRLIMIT), f"--nofile={soft}:{hard}", sys.executable, "-m", "tinytown.runtime",
         "--town", str(rt_town.root)],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=rt_town.root,
        start_new_session=True,
    )
    out.close()
    rt_town.procs.append(proc)
    return proc


def _states(rt_town: RtTown) -> dict[str, int]:
    out: dict[str, int] = {}
    for agent in rt_town.agents().values():
        out[agent.get("state", "")] = out.get(agent.get("state", ""), 0) + 1
    return out


def _open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _settled(sample: Callable[[], object], what: str) -> None:
    """Until two samples half a second apart agree (every actor is in its blocking wait)."""
    last = [sample()]

    def same() -> bool:
        now = sample()
        before, last[0] = last[0], now
        return now == before

    await until(same, what, timeout=60, every=0.5)


async def _register(town: Town, n: int, prefix: str) -> list[str]:
    ids = []
    for i in range(n):
        agent = await register_agent(town, f"{prefix}-{i:04d}", "demo", max_rounds=1000,
                                     host=host_id())
        ids.append(str(agent.id))
    return ids


@pytest.mark.slow
async def test_a_thousand_demo_agents_at_ulimit_1024(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch, record_property: Callable[..., None]
) -> None:
    n = 1000
    monkeypatch.setenv("TINYTOWN_DEMO_DELAY_S", "0")
    async with Town.connect(rt_town.root) as town:
        clients_before = int((await town.redis.execute("INFO", "clients")).split(
            "connected_clients:")[1].split()[0])
        ids = await _register(town, n, "a")
        proc = _start_limited(rt_town, 1024, 20000)
        await until(lambda: _states(rt_town).get("idle", 0) == n, f"all {n} agents idle",
                    timeout=240, every=0.25)
        await _settled(lambda: (_open_files(proc.pid), rt_town.r.info("clients")[
            "connected_clients"]), "open files and connections of the idle runtime")
        files = _open_files(proc.pid)
        rss = _rss_kib(proc.pid)
        info = await town.redis.execute("INFO", "clients")
        clients = int(info.split("connected_clients:")[1].split()[0]) - clients_before
        assert _soft_limit(proc.pid) == 20000  # the runtime raised its soft limit to the hard
        print(f"\n{n} idle agents: {files} open files ({(files - FD_RESERVE) / n:.2f}/agent "
              f"beyond a {FD_RESERVE} reserve), {clients} Redis connections "
              f"({clients / n:.2f}/agent), RSS {rss / 1024:.0f} MiB ({rss / n:.0f} KiB/agent)")
        record_property("open_files", files)
        record_property("redis_connections", clients)
        record_property("rss_kib", rss)
        assert files <= 2 * n + FD_RESERVE
        workers = ids[:25]
        made = [await tasks.assign(town, workers[i % len(workers)], f"scale task {i}")
                for i in range(100)]

        def all_done() -> bool:
            return all(rt_town.task(str(d.task.id)).get("state") == "completed" for d in made)

        await until(all_done, "100 tasks completed", timeout=240, every=0.25)
        states = _states(rt_town)
        assert states.get("error", 0) == 0, states
        assert proc.poll() is None


async def test_spawns_past_capacity_are_refused_and_nothing_ends_in_error(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    capacity = capacity_for(1024)
    monkeypatch.setenv("TINYTOWN_DEMO_DELAY_S", "0")
    async with Town.connect(rt_town.root) as town:
        await _register(town, capacity, "c")
        proc = _start_limited(rt_town, 1024, 1024)
        await until(lambda: _states(rt_town).get("idle", 0) == capacity,
                    f"all {capacity} agents idle", timeout=180, every=0.25)
        assert await town.redis.execute("GET", town.channel.keys.capacity(host_id())) == str(
            capacity)
        with pytest.raises(CapacityError, match=r"at capacity \(\d+ of \d+ agents"):
            await spawn(town, "one-too-many", cli="demo", host=host_id())
        assert "one-too-many" not in rt_town.agents()  # refused before anything was written
        # A start that reaches the runtime anyway (a racing spawn) is refused there.
        extra = await register_agent(town, "racer", "demo", host=host_id())
        await town.channel.runtime_command(host_id(), {"op": "start", "agent_id": str(extra.id)})
        await until(lambda: rt_town.state("racer") == "stopped", "racer refused", timeout=30)
        assert any("at capacity" in line for line in rt_town.activity(str(extra.id)))
        states = _states(rt_town)
        assert states.get("error", 0) == 0, states
        assert states.get("idle", 0) == capacity
        assert proc.poll() is None
