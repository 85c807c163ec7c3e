"""One runtime process hosts 100 demo agents."""

from __future__ import annotations

import pytest
from _rt_support import RtTown, rt_town_fixture, until  # noqa: F401

from tinytown.api import Town
from tinytown.runtime.settings import host_id
from tinytown.services.registration import register_agent

N_AGENTS = 100


async def test_one_runtime_hosts_100_demo_agents(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYTOWN_DEMO_DELAY_S", "0")
    async with Town.connect(rt_town.root) as town:
        ids = []
        for i in range(N_AGENTS):
            handle = await register_agent(town, f"agent-{i:03d}", "demo", max_rounds=10)
            await town.channel.update_agent(handle.id, host=host_id())
            ids.append(handle.id)
        proc = rt_town.start_runtime()

        def all_idle() -> bool:
            return all(s == "idle" for s in (a["state"] for a in rt_town.agents().values()))

        await until(all_idle, "all 100 agents idle", timeout=60, every=0.05)
        assert rt_town.runtime_pids() == {proc.pid}
        assert proc.poll() is None
        task = await town.assign(ids[42], "Write the scaling note")
        await until(lambda: rt_town.task(str(task.id)).get("state") == "completed",
                    "task completed", timeout=60)
        await until(lambda: rt_town.agent("agent-042")["rounds_completed"] == "1",
                    "round counted", timeout=60, every=0.05)
        agents = rt_town.agents()
        assert agents["agent-042"]["tasks_completed"] == "1"
        assert sum(int(a["rounds_completed"]) for a in agents.values()) == 1
        assert {a["host"] for a in agents.values()} == {host_id()}
