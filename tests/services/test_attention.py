"""The attention inbox read from a real town: each kind of fact becomes the right entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from mission.helpers import make_mission

from tinytown.mission.store import MissionStore
from tinytown.models import Agent, AgentId, AgentState, Message, MessageType, Task
from tinytown.models.mission import MissionState, WorkKind, WorkStatus
from tinytown.runtime.attention import attention
from tinytown.runtime.settings import host_id
from tinytown.services.attention_rank import Action, Kind
from tinytown.town import Town, utcnow

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected


async def add_agent(town: Town, name: str, state: AgentState, *, host: str | None = "elsewhere"
                    ) -> Agent:
    agent = Agent.new(name, "claude", utcnow() - timedelta(minutes=30))
    agent = attrs.evolve(agent, state=state, host=host)
    await town.channel.set_agent(agent)
    return agent


async def queue_task(town: Town, agent: Agent, text: str) -> None:
    await town.channel.send(Message(from_=AgentId.supervisor(), to=agent.id,
                                    kind=MessageType.Task(description=text)))


async def test_a_healthy_town_needs_nobody(town: Town) -> None:
    busy = await add_agent(town, "busy", AgentState.WORKING)
    await queue_task(town, busy, "next")
    assert await attention(town) == []


async def test_each_fact_becomes_its_entry(town: Town) -> None:
    now = utcnow()
    asker = await add_agent(town, "asker", AgentState.WORKING)
    await town.channel.send(Message(from_=asker.id, to=AgentId.supervisor(),
                                    kind=MessageType.Query(question="Which DB?")))
    broken = await add_agent(town, "broken", AgentState.ERROR)
    stopped = await add_agent(town, "stopped", AgentState.STOPPED)
    await queue_task(town, stopped, "never runs")
    # An agent of this host while no runtime runs here: its work waits for a runtime.
    orphan = await add_agent(town, "orphan", AgentState.IDLE, host=host_id())
    await queue_task(town, orphan, "waits for a runtime")
    slow = Task.new("huge refactor", now - timedelta(hours=3)).assigned(asker.id, now)
    slow = slow.started(now - timedelta(hours=2))
    await town.channel.set_task(slow)
    _mission, (item,) = await make_mission(town, now, ("Login API", WorkKind.IMPLEMENT, None),
                                           status=WorkStatus.BLOCKED)

    entries = await attention(town, now)
    by_kind = {e.kind: e for e in entries}
    assert set(by_kind) == {Kind.QUERY, Kind.REVIEW_GATE, Kind.AGENT_ERROR,
                            Kind.STRANDED_WORK, Kind.LONG_TASK}
    assert [e.priority for e in entries] == sorted(e.priority for e in entries)
    assert by_kind[Kind.QUERY].reason == "asker asks: Which DB?"
    assert by_kind[Kind.REVIEW_GATE].work_item_id == str(item.id)
    assert by_kind[Kind.AGENT_ERROR].agent == broken.name
    assert by_kind[Kind.LONG_TASK].task_id == str(slow.id)
    stranded = {e.agent: e for e in entries if e.kind is Kind.STRANDED_WORK}
    assert set(stranded) == {"stopped", "orphan"}
    assert stranded["stopped"].actions[0] is Action.RESTART
    assert stranded["orphan"].actions[0] is Action.START_RUNTIME


async def test_a_blocked_mission_is_one_help_entry_not_also_a_query(town: Town) -> None:
    now = utcnow()
    mission, _items = await make_mission(town, now, ("Docs", WorkKind.DESIGN, None))
    blocked = attrs.evolve(mission, state=MissionState.BLOCKED, blocked_reason="no reviewer")
    await MissionStore(town.channel).save_mission(blocked)
    await town.channel.send(Message(
        from_=AgentId.supervisor(), to=AgentId.supervisor(),
        kind=MessageType.Query(question=f"Mission help {mission.id}: no reviewer")))
    entries = await attention(town, now)
    assert [(e.kind, e.mission_id) for e in entries] == [(Kind.MISSION_HELP, str(mission.id))]


async def test_corrupt_records_do_not_break_the_list(town: Town) -> None:
    keys = town.channel.keys
    await town.redis.execute("SET", keys.agent(AgentId.supervisor()) + "x", "junk")
    await town.redis.execute("RPUSH", keys.inbox(AgentId.supervisor()), "{not json")
    broken = await add_agent(town, "broken", AgentState.ERROR)
    entries = await attention(town)
    assert [e.agent for e in entries] == [broken.name]


async def test_dead_letters_are_one_entry_per_agent_with_the_count(town: Town) -> None:
    from tinytown.codec.deadletter import deadletter_to_json
    from tinytown.models.deadletter import DeadLetter

    now = utcnow()
    worker = await add_agent(town, "worker", AgentState.IDLE)
    key = town.channel.keys.deadletter(worker.id)
    for i in range(3):
        letter = DeadLetter(f"JSON nested too deep ({i})", now - timedelta(minutes=3 - i), "[[[")
        await town.redis.execute("RPUSH", key, deadletter_to_json(letter))
    await town.redis.execute("RPUSH", key, "not a dead letter")
    (entry,) = await attention(town, now)
    assert entry.kind is Kind.DEAD_LETTER
    assert entry.agent == "worker"
    assert entry.count == 4
    assert entry.reason.startswith("4 message(s) to worker could not be delivered")
