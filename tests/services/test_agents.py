"""Agent services against the real Redis: list, kill, interrupt, resume, close, wait, prune."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import trio

from tinytown.codec import event_from_json
from tinytown.config import new_town_config, save_town_config
from tinytown.errors import (
    AgentNotFoundError,
    AmbiguousAgentError,
    InvalidInputError,
    InvalidStateError,
)
from tinytown.models import SUPERVISOR, Agent, AgentState, Message, MessageType
from tinytown.runtime.delivery import Delivery
from tinytown.services import agents as svc
from tinytown.town import Town, utcnow

BlockedIn = Callable[..., Awaitable[None]]


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str) -> AsyncIterator[Town]:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root, env={"REDIS_URL": redis_url}) as connected:
        yield connected


async def add_agent(town: Town, name: str, state: AgentState, *, order: int = 0) -> Agent:
    now = utcnow()
    agent = Agent.new(name, "claude", now - timedelta(hours=1) + timedelta(seconds=order))
    agent.state = state
    agent.last_heartbeat = now
    await town.channel.set_agent(agent)
    return agent


async def snapshot(town: Town) -> dict[str, bytes]:
    """Every key of the town with its DUMP, to prove that nothing changed."""
    keys = sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern))
    pipe = town.redis.pipeline()
    for key in keys:
        pipe.cmd("DUMP", key)
    return dict(zip(keys, await pipe.execute(), strict=True)) if keys else {}


async def events_of(town: Town) -> list[tuple[str, str | None, str | None]]:
    entries = await town.redis.execute("XRANGE", town.channel.keys.events, "-", "+")
    out = []
    for _, flat in entries:
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        event = event_from_json(fields["data"])
        out.append((event.event_type.value, event.old_state, event.new_state))
    return out


# --- list ----------------------------------------------------------------------------


async def test_list_reports_queue_sizes(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.WORKING, order=1)
    b = await add_agent(town, "frontend", AgentState.IDLE, order=2)
    await town.channel.send(Message(from_=SUPERVISOR, to=a.id, kind=MessageType.Ping()))
    await town.channel.send(Message(from_=SUPERVISOR, to=a.id, kind=MessageType.Ping()))
    await town.channel.send_urgent(Message(from_=SUPERVISOR, to=a.id, kind=MessageType.Ping()))
    await Delivery(town.redis, town.channel.keys, a.id).take_batch(1)  # urgent -> processing
    rows = await svc.list_agents(town)
    assert [(r.agent.name, r.inbox, r.urgent, r.processing) for r in rows] == [
        ("backend", 2, 0, 1),
        ("frontend", 0, 0, 0),
    ]
    assert rows[0].queued == 3
    assert b.id == rows[1].agent.id


async def test_list_round_trips_do_not_grow_with_agents(town: Town) -> None:
    for i in range(3):
        await add_agent(town, f"a{i}", AgentState.IDLE, order=i)
    before = town.redis.round_trips
    assert len(await svc.list_agents(town)) == 3
    small = town.redis.round_trips - before
    for i in range(3, 60):
        await add_agent(town, f"a{i}", AgentState.IDLE, order=i)
    before = town.redis.round_trips
    assert len(await svc.list_agents(town)) == 60
    assert town.redis.round_trips - before == small == 3


async def test_list_empty_town(town: Town) -> None:
    assert await svc.list_agents(town) == []


# --- kill ----------------------------------------------------------------------------


async def test_kill_sets_flag_state_and_activity(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.WORKING)
    result = await svc.kill(town, "backend")
    assert (result.previous, result.state) == (AgentState.WORKING, AgentState.STOPPED)
    assert await town.channel.get_agent_state(a.id) is AgentState.STOPPED
    assert await town.channel.should_stop(a.id)
    assert await town.channel.recent_activity(a.id) == ["🛑 Stop requested"]
    ttl = await town.redis.execute("TTL", town.channel.keys.stop(a.id))
    assert 3500 < ttl <= 3600


async def test_control_with_a_corrupt_activity_key_applies_fully(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.WORKING)
    activity = town.channel.keys.activity(a.id)
    await town.redis.execute("SET", activity, "not a list")
    result = await svc.interrupt(town, "backend")
    assert result.state is AgentState.PAUSED
    result = await svc.kill(town, "backend")
    assert (result.previous, result.state) == (AgentState.PAUSED, AgentState.STOPPED)
    assert await town.channel.get_agent_state(a.id) is AgentState.STOPPED
    assert await town.channel.should_stop(a.id)
    assert await town.redis.execute("GET", activity) == "not a list"


async def test_kill_by_short_id_and_full_id(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.IDLE)
    await svc.kill(town, a.short_id)
    assert await town.channel.get_agent_state(a.id) is AgentState.STOPPED
    b = await add_agent(town, "other", AgentState.IDLE)
    await svc.kill(town, str(b.id))
    assert await town.channel.get_agent_state(b.id) is AgentState.STOPPED


async def test_kill_supervisor_sets_only_the_flag(town: Town) -> None:
    result = await svc.kill(town, "conductor")
    assert result.agent_id == SUPERVISOR
    assert result.state is None
    assert await town.channel.should_stop(SUPERVISOR)
    assert await town.channel.get_agent(SUPERVISOR) is None


async def test_kill_unknown_changes_nothing(town: Town) -> None:
    await add_agent(town, "backend", AgentState.IDLE)
    before = await snapshot(town)
    with pytest.raises(AgentNotFoundError, match="nobody"):
        await svc.kill(town, "nobody")
    assert await snapshot(town) == before


async def test_kill_ambiguous_name_changes_nothing(town: Town) -> None:
    await add_agent(town, "twin", AgentState.STOPPED, order=1)
    await add_agent(town, "twin", AgentState.STOPPED, order=2)
    before = await snapshot(town)
    with pytest.raises(AmbiguousAgentError):
        await svc.kill(town, "twin")
    assert await snapshot(town) == before


# --- interrupt / resume / close -------------------------------------------------------------


async def test_interrupt_then_resume(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.WORKING)
    await town.redis.execute("SET", town.channel.keys.stop(a.id), "1")
    paused = await svc.interrupt(town, "backend")
    assert (paused.previous, paused.state) == (AgentState.WORKING, AgentState.PAUSED)
    assert await town.channel.get_agent_state(a.id) is AgentState.PAUSED
    resumed = await svc.resume(town, "backend")
    assert (resumed.previous, resumed.state) == (AgentState.PAUSED, AgentState.IDLE)
    assert await town.channel.get_agent_state(a.id) is AgentState.IDLE
    assert not await town.channel.should_stop(a.id)  # resume clears the stop flag
    assert await town.channel.recent_activity(a.id) == ["▶️ Resumed", "⏸️ Interrupted (paused)"]
    assert await events_of(town) == [
        ("agent_interrupted", "Working", "Paused"),
        ("agent_resumed", "Paused", "Idle"),
    ]


@pytest.mark.parametrize("state", [AgentState.STOPPED, AgentState.ERROR, AgentState.COLD])
async def test_interrupt_refuses_terminal_agents(town: Town, state: AgentState) -> None:
    await add_agent(town, "backend", state)
    before = await snapshot(town)
    with pytest.raises(InvalidStateError, match=f"terminal state {state.label}"):
        await svc.interrupt(town, "backend")
    assert await snapshot(town) == before


@pytest.mark.parametrize("state", [AgentState.IDLE, AgentState.WORKING, AgentState.STOPPED])
async def test_resume_refuses_agents_not_paused(town: Town, state: AgentState) -> None:
    await add_agent(town, "backend", state)
    before = await snapshot(town)
    with pytest.raises(InvalidStateError, match="not Paused"):
        await svc.resume(town, "backend")
    assert await snapshot(town) == before


async def test_close_drains_and_sets_the_flag(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.IDLE)
    result = await svc.close(town, "backend")
    assert (result.previous, result.state) == (AgentState.IDLE, AgentState.DRAINING)
    assert await town.channel.get_agent_state(a.id) is AgentState.DRAINING
    assert await town.channel.should_stop(a.id)
    assert await town.channel.recent_activity(a.id) == ["🔻 Closing (draining then stop)"]
    assert await events_of(town) == [("agent_stopped", "Idle", "Draining")]


async def test_close_refuses_a_stopped_agent(town: Town) -> None:
    await add_agent(town, "backend", AgentState.STOPPED)
    before = await snapshot(town)
    with pytest.raises(InvalidStateError, match="already in terminal state Stopped"):
        await svc.close(town, "backend")
    assert await snapshot(town) == before


@pytest.mark.parametrize("command", [svc.interrupt, svc.resume, svc.close])
async def test_control_of_supervisor_needs_a_record(town: Town, command: object) -> None:
    with pytest.raises(AgentNotFoundError, match="supervisor"):
        await command(town, "supervisor")  # type: ignore[operator]


async def test_interrupt_wins_against_a_busy_heartbeat(town: Town) -> None:
    """The check-and-set retries when the runtime keeps touching the record."""
    a = await add_agent(town, "backend", AgentState.WORKING)
    done = trio.Event()

    async def beat() -> None:
        while not done.is_set():
            await town.channel.update_agent(a.id, last_heartbeat=utcnow())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(beat)
        await svc.interrupt(town, "backend")
        done.set()
    record = await town.channel.require_agent(a.id)
    assert record.state is AgentState.PAUSED


# --- wait ------------------------------------------------------------------------------


async def test_wait_returns_at_once_for_a_stopped_agent(town: Town) -> None:
    await add_agent(town, "backend", AgentState.STOPPED)
    result = await svc.wait(town, "backend")
    assert (result.state, result.timed_out) == (AgentState.STOPPED, False)


async def test_wait_timeout_returns_the_current_state(town: Town) -> None:
    await add_agent(town, "backend", AgentState.WORKING)
    result = await svc.wait(town, "backend", 0)
    assert (result.state, result.timed_out) == (AgentState.WORKING, True)


async def test_wait_sees_the_agent_stop(town: Town, blocked_in: BlockedIn) -> None:
    a = await add_agent(town, "backend", AgentState.WORKING)
    results: list[svc.WaitResult] = []

    async def waiter() -> None:
        results.append(await svc.wait(town, "backend", recheck_s=0.01))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await blocked_in(town.redis, "xread")
        assert not results
        await town.channel.set_agent_state(a.id, AgentState.ERROR)
    assert [(r.state, r.timed_out) for r in results] == [(AgentState.ERROR, False)]


async def test_wait_wakes_on_the_stop_event_not_a_poll(
    town: Town, blocked_in: BlockedIn
) -> None:
    """With a re-check far away, only the agent's event stream can end the wait early."""
    await add_agent(town, "backend", AgentState.WORKING)
    results: list[svc.WaitResult] = []

    async def waiter() -> None:
        results.append(await svc.wait(town, "backend", recheck_s=600))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await blocked_in(town.redis, "xread")  # the wait is blocked on the stream
            assert not results
            await svc.kill(town, "backend")  # writes Stopped and the agent_stopped event
    assert [(r.state, r.timed_out) for r in results] == [(AgentState.STOPPED, False)]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
async def test_wait_rejects_bad_timeouts(town: Town, bad: float) -> None:
    await add_agent(town, "backend", AgentState.WORKING)
    with pytest.raises(InvalidInputError, match="timeout"):
        await svc.wait(town, "backend", bad)


async def test_wait_unknown_agent(town: Town) -> None:
    with pytest.raises(AgentNotFoundError):
        await svc.wait(town, "ghost", 0)


# --- prune -----------------------------------------------------------------------------


async def test_prune_removes_stopped_and_error_with_their_keys(town: Town) -> None:
    stopped = await add_agent(town, "s", AgentState.STOPPED, order=1)
    error = await add_agent(town, "e", AgentState.ERROR, order=2)
    cold = await add_agent(town, "c", AgentState.COLD, order=3)
    idle = await add_agent(town, "i", AgentState.IDLE, order=4)
    await town.channel.send(Message(from_=SUPERVISOR, to=stopped.id, kind=MessageType.Ping()))
    await town.channel.log_activity(stopped.id, "x")
    await town.redis.execute("SET", town.channel.keys.stop(stopped.id), "1")
    removed = await svc.prune(town)
    assert [a.name for a in removed] == ["s", "e"]
    names = sorted(a.name for a in await town.channel.list_agents())
    assert names == ["c", "i"]
    assert await town.redis.execute("KEYS", f"*{stopped.id}*") == []
    assert await town.redis.execute("KEYS", f"*{error.id}*") == []
    assert cold.id != idle.id


async def test_prune_all_removes_live_agents_too(town: Town) -> None:
    await add_agent(town, "w", AgentState.WORKING, order=1)
    await add_agent(town, "s", AgentState.STOPPED, order=2)
    removed = await svc.prune(town, everything=True)
    assert sorted(a.name for a in removed) == ["s", "w"]
    assert await town.channel.list_agents() == []


async def test_prune_nothing(town: Town) -> None:
    await add_agent(town, "w", AgentState.WORKING)
    before = await snapshot(town)
    assert await svc.prune(town) == []
    assert await snapshot(town) == before


async def test_prune_keeps_an_agent_restarted_after_the_listing(town: Town) -> None:
    """The server-side check re-reads the state: a record that came back to life is kept."""
    a = await add_agent(town, "s", AgentState.STOPPED)
    await town.channel.set_agent_state(a.id, AgentState.IDLE)
    prunable = (AgentState.STOPPED, AgentState.ERROR)
    assert await town.channel.remove_agents([a.id], prunable) == [False]
    assert await town.channel.get_agent_state(a.id) is AgentState.IDLE


async def test_control_commands_wake_the_agents_runtime(town: Town) -> None:
    a = await add_agent(town, "backend", AgentState.WORKING)
    await town.channel.update_agent(a.id, host="box-1")
    control = town.channel.keys.runtime_control("box-1")
    await svc.interrupt(town, "backend")
    await svc.resume(town, "backend")
    await svc.close(town, "backend")
    await svc.kill(town, "backend")
    commands = await town.redis.execute("LRANGE", control, 0, -1)
    assert [json.loads(c) for c in commands] == [{"op": "wake", "agent_id": str(a.id)}] * 4
    with pytest.raises(InvalidStateError):
        await svc.resume(town, "backend")  # refused: no wake
    assert await town.redis.execute("LLEN", control) == 4


async def test_prune_all_wakes_live_agents_only(town: Town) -> None:
    live = await add_agent(town, "live", AgentState.IDLE, order=1)
    dead = await add_agent(town, "dead", AgentState.STOPPED, order=2)
    for agent in (live, dead):
        await town.channel.update_agent(agent.id, host="box-1")
    await svc.prune(town, everything=True)
    commands = await town.redis.execute("LRANGE", town.channel.keys.runtime_control("box-1"), 0, -1)
    assert [json.loads(c)["agent_id"] for c in commands] == [str(live.id)]
