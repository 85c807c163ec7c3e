"""Agent-management tools through the SDK's client, with the effect read back from Redis."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import trio
from mcp import Client

from tinytown.api import Town
from tinytown.config import CliPreset, load_town_config, save_town_config
from tinytown.models import AgentId, AgentState, Message, MessageType
from tinytown.procwait import wait_pid_gone
from tinytown.runtime.launch import runtime_pid, shut_down_runtimes
from tinytown.runtime.settings import host_id
from tinytown.services import agents as agent_service
from tinytown.town import utcnow

from .conftest import fails, ok
from .test_tools_tasks import add_agent


async def test_kill_interrupt_resume_close(client: Client, town: Town) -> None:
    a = await add_agent(town, "alpha")
    b = await add_agent(town, "beta")
    assert await ok(client, "agent.interrupt", agent="alpha") == {
        "agent": "alpha", "status": "paused"}
    assert await town.channel.get_agent_state(a.id) is AgentState.PAUSED
    assert await ok(client, "agent.resume", agent="alpha") == {
        "agent": "alpha", "status": "resumed"}
    assert await town.channel.get_agent_state(a.id) is AgentState.IDLE
    assert "not Paused" in await fails(client, "agent.resume", agent="alpha")
    assert await ok(client, "agent.close", agent="alpha") == {
        "agent": "alpha", "status": "draining"}
    assert await town.channel.get_agent_state(a.id) is AgentState.DRAINING
    assert await ok(client, "agent.kill", agent="beta") == {"agent": "beta", "status": "stopped"}
    assert await town.channel.get_agent_state(b.id) is AgentState.STOPPED
    assert await town.redis.execute("EXISTS", town.channel.keys.stop(b.id)) == 1
    assert "cannot be interrupted" in await fails(client, "agent.interrupt", agent="beta")
    assert await fails(client, "agent.kill", agent="gamma") == "Agent not found: gamma"


async def test_wait_returns_at_terminal_state_or_timeout(
    client: Client, town: Town, blocked_in: Callable[..., Awaitable[None]]
) -> None:
    a = await add_agent(town, "alpha")
    timed = await ok(client, "agent.wait", agent="alpha", timeout_secs=0.2)
    assert timed == {"agent": "alpha", "state": "Idle", "rounds_completed": 0,
                     "tasks_completed": 0}

    async def stop_soon() -> None:
        await blocked_in(town.redis, "xread")  # agent.wait is waiting for the agent's events
        await agent_service.kill(town, str(a.id))  # writes Stopped and the agent_stopped event

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_soon)
        done = await ok(client, "agent.wait", agent="alpha", timeout_secs=20)
    assert done["state"] == "Stopped"
    assert "non-negative" in await fails(client, "agent.wait", agent="alpha", timeout_secs=-1)


async def test_prune_and_get_result(client: Client, town: Town) -> None:
    live = await add_agent(town, "live")
    dead = await add_agent(town, "dead", AgentState.STOPPED)
    none = await ok(client, "agent.get_result", agent="live")
    assert none == {"agent": "live", "result": None,
                    "message": "No completed tasks found for this agent"}
    first = await town.assign(live.id, "one")
    second = await town.assign(live.id, "two")
    await ok(client, "task.complete", task_id=str(first.id), result="r1")
    await trio.sleep(0.01)
    await ok(client, "task.complete", task_id=str(second.id), result="r2")
    got = await ok(client, "agent.get_result", agent="live")
    assert (got["task_id"], got["description"], got["result"]) == (str(second.id), "two", "r2")
    assert got["completed_at"].endswith(" UTC")
    assert len(got["completed_at"]) == 33
    orphaned = await town.assign(dead.id, "left in a dead inbox")
    pruned = await ok(client, "agent.prune")
    assert pruned == {"removed": 1,
                      "agents": [{"id": str(dead.id), "name": "dead", "state": "Stopped",
                                  "tasks_to_backlog": [str(orphaned.id)]}]}
    assert [b["task_id"] for b in await ok(client, "backlog.list")] == [str(orphaned.id)]
    assert await town.channel.get_agent(dead.id) is None
    assert (await ok(client, "agent.prune", all=True))["removed"] == 1
    assert await town.channel.get_agent(live.id) is None


async def test_recover_and_reclaim(client: Client, town: Town) -> None:
    fresh = await ok(client, "recovery.recover_agents")
    assert fresh == {"agents_checked": 0, "agents_recovered": 0, "recovered_agents": []}
    orphan = await add_agent(town, "orphan", AgentState.WORKING)
    await town.channel.update_agent(orphan.id, last_heartbeat=utcnow() - timedelta(minutes=10))
    got = await ok(client, "recovery.recover_agents")
    assert got == {"agents_checked": 1, "agents_recovered": 1,
                   "recovered_agents": [{"id": str(orphan.id), "name": "orphan"}]}
    assert await town.channel.get_agent_state(orphan.id) is AgentState.STOPPED

    task = await town.assign(orphan.id, "left behind")
    await town.channel.send(Message(from_=orphan.id, to=orphan.id,
                                    kind=MessageType.Task(description="free text")))
    listed = await ok(client, "recovery.reclaim_tasks")
    assert listed == {"tasks_reclaimed": 2, "destination": "Listed"}
    assert await town.channel.inbox_len(orphan.id) == 2  # listing moves nothing
    heir = await add_agent(town, "heir")
    moved = await ok(client, "recovery.reclaim_tasks", to_agent="heir", from_agent="orphan")
    assert moved == {"tasks_reclaimed": 2, "destination": 'Agent("heir")'}
    assert await town.channel.inbox_len(heir.id) == 2
    stored = await town.channel.get_task(task.id)
    assert stored is not None
    assert stored.assigned_to == heir.id
    await town.channel.set_agent_state(heir.id, AgentState.STOPPED)
    back = await ok(client, "recovery.reclaim_tasks", to_backlog=True, from_agent="heir")
    assert back == {"tasks_reclaimed": 2, "destination": "Backlog"}
    backlog = await ok(client, "backlog.list")
    assert [b["description"] for b in backlog] == ["left behind", "free text"]
    assert "Agent not found" in await fails(client, "recovery.reclaim_tasks", to_agent="ghost")


def _town_runtimes(root: Path) -> set[int]:
    """Pids of every runtime process of the town at ``root`` (registered in Redis or not yet)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tinytown.runtime" in argv and str(root).encode() in argv:
            found.add(int(entry.name))
    return found


@pytest.fixture
async def runtime_cleanup(town: Town) -> AsyncIterator[None]:
    """Stops, then kills by pid, every runtime the test started: those registered in Redis,
    and those found by their command line (one still starting is not registered yet)."""
    yield
    with trio.move_on_after(30):
        await shut_down_runtimes(town)
    doomed = _town_runtimes(town.root)
    pid = await runtime_pid(town, host_id())
    if pid is not None:
        doomed.add(pid)
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    with trio.move_on_after(30):
        for pid in doomed:
            await wait_pid_gone(pid)


@pytest.mark.usefixtures("runtime_cleanup")
async def test_spawn_runs_the_agent_and_restart_revives_it(client: Client, town: Town) -> None:
    config = load_town_config(town.root)
    config.agent_clis["quiet"] = CliPreset("quiet", f"{sys.executable} -c pass")
    save_town_config(town.root, config)
    town.config = config
    parent = await add_agent(town, "lead")
    assert "not installed" in await fails(client, "agent.spawn", name="w1", cli="claude")
    assert await fails(client, "agent.spawn", name="w1", cli="quiet", parent_agent="ghost") == (
        "Agent not found: Parent agent 'ghost' not found"
    )
    data = await ok(client, "agent.spawn", name="w1", cli="quiet", role_id="tester",
                    nickname="Robin", parent_agent="lead")
    aid = AgentId.parse(data["agent_id"])
    assert data == {"agent_id": str(aid), "name": "w1", "cli": "quiet", "role_id": "tester",
                    "nickname": "Robin", "parent_agent_id": str(parent.id)}
    record = await town.channel.get_agent(aid)
    assert record is not None
    assert (record.nickname, record.parent_agent_id) == ("Robin", parent.id)
    assert await runtime_pid(town, host_id()) is not None  # the runtime runs it
    assert "already exists" in await fails(client, "agent.spawn", name="w1", cli="quiet")
    assert "still active" in await fails(client, "agent.restart", agent="w1")
    await ok(client, "agent.kill", agent="w1")
    stopped = await ok(client, "agent.wait", agent="w1", timeout_secs=20)
    assert stopped["state"] == "Stopped"
    assert await ok(client, "agent.restart", agent="w1") == {"agent": "w1", "status": "restarted"}
    revived = await town.channel.get_agent(aid)
    assert revived is not None
    assert not revived.state.is_terminal


