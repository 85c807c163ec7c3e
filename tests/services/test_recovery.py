"""Orphan detection (pure) and ``recover`` against the real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from tinytown.config import new_town_config, save_town_config
from tinytown.errors import InvalidInputError
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Message,
    MessageType,
    Task,
    TaskState,
)
from tinytown.runtime.delivery import Delivery
from tinytown.services import recovery
from tinytown.services.recovery import ORPHAN_THRESHOLD_S, find_orphans
from tinytown.town import Town, utcnow

NOW = datetime(2026, 4, 20, 18, 0, 0, tzinfo=UTC)


def agent(state: AgentState, silent_s: float, name: str = "a") -> Agent:
    rec = Agent.new(name, "claude", NOW - timedelta(hours=2))
    rec.state = state
    rec.last_heartbeat = NOW - timedelta(seconds=silent_s)
    return rec


# --- pure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "silent_s", "orphan"),
    [
        (AgentState.WORKING, 121, True),
        (AgentState.WORKING, 120, False),  # strictly greater than the threshold
        (AgentState.WORKING, 5, False),  # a long model run with a live heartbeat
        (AgentState.STARTING, 600, True),
        (AgentState.IDLE, 600, True),
        (AgentState.DRAINING, 600, True),
        (AgentState.PAUSED, 600, True),  # a paused actor still heartbeats while alive
        (AgentState.STOPPED, 6000, False),
        (AgentState.ERROR, 6000, False),
        (AgentState.COLD, 6000, False),
        (AgentState.IDLE, -30, False),  # heartbeat from a clock slightly ahead
    ],
)
def test_find_orphans_table(state: AgentState, silent_s: float, orphan: bool) -> None:
    found = find_orphans([agent(state, silent_s)], NOW)
    assert bool(found) is orphan
    if orphan:
        assert found[0].silent_s == pytest.approx(silent_s)


def test_find_orphans_threshold_is_a_parameter() -> None:
    agents = [agent(AgentState.WORKING, 30, "x"), agent(AgentState.WORKING, 10, "y")]
    assert [o.agent.name for o in find_orphans(agents, NOW, threshold_s=20)] == ["x"]
    assert find_orphans(agents, NOW) == []
    assert ORPHAN_THRESHOLD_S == 120


def test_find_orphans_keeps_order() -> None:
    agents = [agent(AgentState.WORKING, 500, n) for n in ("c", "a", "b")]
    assert [o.agent.name for o in find_orphans(agents, NOW)] == ["c", "a", "b"]


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_check_threshold_rejects(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="threshold"):
        recovery.check_threshold(bad)


# --- with Redis ---------------------------------------------------------------------------


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str) -> AsyncIterator[Town]:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root, env={"REDIS_URL": redis_url}) as connected:
        yield connected


async def add(town: Town, name: str, state: AgentState, silent_s: float) -> AgentId:
    now = utcnow()
    rec = Agent.new(name, "claude", now - timedelta(hours=2))
    rec.state = state
    rec.last_heartbeat = now - timedelta(seconds=silent_s)
    rec.last_active_at = now - timedelta(hours=1)  # long model run: no activity for an hour
    await town.channel.set_agent(rec)
    return rec.id


async def test_recover_stops_only_silent_live_agents(town: Town) -> None:
    dead = await add(town, "dead", AgentState.WORKING, 300)
    busy = await add(town, "busy", AgentState.WORKING, 2)
    gone = await add(town, "gone", AgentState.STOPPED, 9000)
    report = await recovery.recover(town)
    assert report.checked == 3
    assert [(o.agent.name, o.agent.state) for o in report.recovered] == [
        ("dead", AgentState.WORKING)
    ]
    assert await town.channel.get_agent_state(dead) is AgentState.STOPPED
    assert await town.channel.get_agent_state(busy) is AgentState.WORKING
    assert await town.channel.get_agent_state(gone) is AgentState.STOPPED
    assert await town.channel.recent_activity(dead) == ["🔄 Recovered (orphaned)"]
    assert await town.channel.recent_activity(busy) == []


async def test_recover_never_stops_an_agent_whose_runtime_heartbeats(town: Town) -> None:
    """A Working agent in an hour-long model run, heartbeat refreshed by its runtime."""
    aid = await add(town, "long-run", AgentState.WORKING, 0)
    done = trio.Event()

    async def runtime_heartbeat() -> None:
        while not done.is_set():
            await town.channel.update_agent(aid, last_heartbeat=utcnow())
            await trio.sleep(0.001)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime_heartbeat)
        report = await recovery.recover(town)
        done.set()
    assert report.recovered == []
    assert await town.channel.get_agent_state(aid) is AgentState.WORKING


async def test_recover_gives_up_when_a_heartbeat_arrives_after_the_scan(town: Town) -> None:
    aid = await add(town, "late", AgentState.WORKING, 600)
    now = utcnow()
    assert find_orphans(await town.channel.list_agents(), now)  # stale in the scan...
    await town.channel.update_agent(aid, last_heartbeat=now)  # ...then the runtime beats
    confirmed = await recovery._stop_if_still_orphaned(
        town, aid, now, ORPHAN_THRESHOLD_S, recovery.RECOVER_ACTIVITY
    )
    assert confirmed is None
    assert await town.channel.get_agent_state(aid) is AgentState.WORKING
    assert await town.channel.recent_activity(aid) == []


async def test_recover_returns_unacknowledged_messages_to_the_inbox(town: Town) -> None:
    aid = await add(town, "crashed", AgentState.WORKING, 600)
    first = Message(from_=SUPERVISOR, to=aid, kind=MessageType.Task(description="one"))
    second = Message(from_=SUPERVISOR, to=aid, kind=MessageType.Task(description="two"))
    third = Message(from_=SUPERVISOR, to=aid, kind=MessageType.Task(description="three"))
    await town.channel.send_many([first, second, third])
    await Delivery(town.redis, town.channel.keys, aid).take_batch(2)  # took two, then died
    report = await recovery.recover(town, activity=recovery.RECOVER_ACTIVITY_CLI)
    assert report.requeued == 2
    assert await town.channel.processing_len(aid) == 0
    queued = await town.channel.peek(aid)
    assert [m.id for m in queued] == [first.id, second.id, third.id]
    assert await town.channel.recent_activity(aid) == ["🔄 Recovered by tt recover (orphaned)"]


async def test_recover_with_a_custom_threshold_and_now(town: Town) -> None:
    a = await add(town, "a", AgentState.IDLE, 30)
    b = await add(town, "b", AgentState.IDLE, 5)
    report = await recovery.recover(town, threshold_s=20)
    assert [o.agent.id for o in report.recovered] == [a]
    later = utcnow() + timedelta(hours=1)
    report = await recovery.recover(town, now=later)
    assert [o.agent.id for o in report.recovered] == [b]


async def test_recover_rejects_a_bad_threshold_before_touching_anything(town: Town) -> None:
    aid = await add(town, "a", AgentState.WORKING, 600)
    with pytest.raises(InvalidInputError):
        await recovery.recover(town, threshold_s=0)
    assert await town.channel.get_agent_state(aid) is AgentState.WORKING


async def test_recover_empty_town(town: Town) -> None:
    report = await recovery.recover(town)
    assert (report.checked, report.recovered, report.requeued) == (0, [], 0)


async def test_recover_puts_the_running_task_of_a_dead_agent_back_to_assigned(town: Town) -> None:
    dead = await add(town, "dead", AgentState.WORKING, 300)
    other = await add(town, "other", AgentState.IDLE, 1)
    now = utcnow()
    mine = Task.new("half done", now - timedelta(hours=1)).assigned(dead, now).started(now)
    theirs = Task.new("not mine", now).assigned(other, now).started(now)
    await town.channel.set_tasks([mine, theirs])
    await town.channel.update_agent(dead, current_task=mine.id)
    await recovery.recover(town)
    after = await town.channel.require_task(mine.id)
    assert after.state is TaskState.ASSIGNED
    assert after.assigned_to == dead
    assert after.started_at == mine.started_at
    record = await town.channel.require_agent(dead)
    assert record.current_task is None
    assert (await town.channel.require_task(theirs.id)).state is TaskState.RUNNING


async def test_recover_leaves_a_finished_pointed_task_alone(town: Town) -> None:
    dead = await add(town, "dead", AgentState.WORKING, 300)
    now = utcnow()
    done = Task.new("done", now).assigned(dead, now).completed("ok", now)
    await town.channel.set_task(done)
    await town.channel.update_agent(dead, current_task=done.id)
    await recovery.recover(town)
    assert (await town.channel.require_task(done.id)).state is TaskState.COMPLETED
