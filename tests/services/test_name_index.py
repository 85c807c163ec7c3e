"""Atomic name reservation through the name index ``tt:<town>:names`` (issue 10 item 3)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tinytown.config import CliPreset, new_town_config, save_town_config
from tinytown.errors import AgentExistsError, AgentNotFoundError
from tinytown.models import Agent, AgentState
from tinytown.runtime import spawning as control
from tinytown.services import agents as svc
from tinytown.services.registration import register_agent
from tinytown.town import Town, utcnow


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str) -> AsyncIterator[Town]:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    config = new_town_config(town_name)
    config.agent_clis["py"] = CliPreset("py", f"{sys.executable} -c pass")
    save_town_config(root, config)
    async with Town.connect(root, env={"REDIS_URL": redis_url}) as connected:
        yield connected


async def index(town: Town) -> dict[str, str]:
    flat = await town.redis.execute("HGETALL", town.channel.keys.names)
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def live_named(town: Town, name: str) -> list[Agent]:
    return [a for a in await town.list_agents() if a.name == name and not a.state.is_terminal]


async def written_like_0_10(town: Town, name: str, state: AgentState) -> Agent:
    """An agent record written without touching the index, as tinytown 0.10 does."""
    agent = Agent.new(name, "claude", utcnow())
    agent.state = state
    await town.channel.set_agent(agent)
    return agent


async def test_fifty_concurrent_api_spawns_of_one_name_give_one_live_agent(
    town: Town, redis_url: str
) -> None:
    outcomes: list[str] = []

    async def spawn_one() -> None:
        # Each spawner has its own connection, as separate processes would.
        async with Town.connect(town.root, env={"REDIS_URL": redis_url}) as mine:
            try:
                await register_agent(mine, "twin", "claude")
            except AgentExistsError:
                outcomes.append("exists")
            else:
                outcomes.append("spawned")

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(spawn_one)
    assert sorted(set(outcomes)) == ["exists", "spawned"]
    assert outcomes.count("spawned") == 1
    live = await live_named(town, "twin")
    assert len(live) == 1
    assert await index(town) == {"twin": str(live[0].id)}
    assert await town.channel.live_agent_id("twin") == live[0].id


async def test_a_live_agent_unknown_to_the_index_blocks_the_name_and_is_indexed(
    town: Town,
) -> None:
    other = await written_like_0_10(town, "shared", AgentState.WORKING)
    with pytest.raises(AgentExistsError, match=r"Agent 'shared' already exists \(Working"):
        await register_agent(town, "shared", "claude")
    assert await index(town) == {"shared": str(other.id)}
    assert await live_named(town, "shared") == [other]
    assert await town.channel.live_agent_id("shared") == other.id


async def test_a_stale_entry_is_overwritten_and_a_terminal_namesake_does_not_block(
    town: Town,
) -> None:
    first = await register_agent(town, "worker", "claude")
    await town.channel.set_agent_state(first.id, AgentState.STOPPED)
    await written_like_0_10(town, "worker", AgentState.ERROR)
    second = await register_agent(town, "worker", "claude")
    assert await index(town) == {"worker": str(second.id)}
    assert [a.id for a in await live_named(town, "worker")] == [second.id]


async def test_restart_refuses_a_name_another_live_agent_took(town: Town) -> None:
    # spawn -> kill -> spawn -> restart: the way to two live agents of one name.
    old = await control.spawn(town, "dup", cli="py", host="h", background=False)
    await svc.kill(town, str(old.agent.id))
    new = await control.spawn(town, "dup", cli="py", host="h", background=False)
    with pytest.raises(AgentExistsError, match="Agent 'dup' already exists"):
        await control.restart(town, str(old.agent.id), host="h", background=False)
    assert (await town.channel.require_agent(old.agent.id)).state is AgentState.STOPPED
    assert [a.id for a in await live_named(town, "dup")] == [new.agent.id]
    await svc.kill(town, str(new.agent.id))
    relaunched = await control.restart(town, str(old.agent.id), host="h", background=False)
    assert relaunched.agent.state is AgentState.IDLE
    assert await index(town) == {"dup": str(old.agent.id)}


async def test_concurrent_restarts_of_two_namesakes_revive_one(town: Town) -> None:
    a = await written_like_0_10(town, "pair", AgentState.STOPPED)
    b = await written_like_0_10(town, "pair", AgentState.STOPPED)
    outcomes: list[str] = []

    async def revive(agent: Agent) -> None:
        try:
            await town.channel.revive_agent(agent, now=utcnow(), rounds=3, host="h", activity="x")
        except AgentExistsError:
            outcomes.append("exists")
        else:
            outcomes.append("revived")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(revive, a)
        nursery.start_soon(revive, b)
    assert sorted(outcomes) == ["exists", "revived"]
    assert len(await live_named(town, "pair")) == 1


async def test_prune_drops_the_entry_only_of_the_pruned_agent(town: Town) -> None:
    gone = await register_agent(town, "solo", "claude")
    await town.channel.set_agent_state(gone.id, AgentState.STOPPED)
    assert [a.id for a in await svc.prune(town)] == [gone.id]
    assert await index(town) == {}
    old = await register_agent(town, "keep", "claude")
    await town.channel.set_agent_state(old.id, AgentState.STOPPED)
    new = await register_agent(town, "keep", "claude")
    await town.channel.set_agent_state(old.id, AgentState.ERROR)
    assert [a.id for a in await svc.prune(town)] == [old.id]
    assert await index(town) == {"keep": str(new.id)}


async def test_a_wrong_typed_index_is_rebuilt_not_fatal(town: Town) -> None:
    await town.redis.execute("SET", town.channel.keys.names, "garbage")
    handle = await register_agent(town, "fresh", "claude")
    assert await index(town) == {"fresh": str(handle.id)}
    with pytest.raises(AgentExistsError):
        await register_agent(town, "fresh", "claude")


@pytest.mark.parametrize(
    "name", ["../../../../pwned", "a/b", "..", "x" * 65, "bell\a", "tab\tname"]
)
async def test_a_record_whose_name_is_not_a_name_is_corrupt_and_skipped(
    town: Town, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = Agent.new("placeholder", "py", utcnow())
    await town.channel.set_agent(hostile)
    await town.redis.execute("HSET", town.channel.keys.agent(hostile.id), "name", name)
    assert await town.list_agents() == []
    assert "invalid agent name" in caplog.text
    with pytest.raises(AgentNotFoundError):
        await control.restart(town, name, host="h", background=False)
    # Nothing was written under the name anywhere near the town.
    assert not list(town.root.parent.rglob("*pwned*"))


async def test_per_agent_files_are_named_by_id(town: Town) -> None:
    launch = await control.spawn(town, "files", cli="py", host="h", background=False)
    assert launch.log_path == town.root / ".tt" / "logs" / f"{launch.agent.id}.log"
    assert launch.log_path.exists()
    assert not (town.root / ".tt" / "logs" / "files.log").exists()


async def test_resolving_by_name_reads_the_index_not_every_agent(town: Town) -> None:
    names = [f"w{i:03d}" for i in range(60)]
    for name in names:
        await register_agent(town, name, "claude")

    async def trips(ref: str) -> tuple[str, int]:
        before = town.redis.round_trips
        _, agent = await town.resolve(ref)
        assert agent is not None
        return agent.name, town.redis.round_trips - before

    assert await trips("w007") == ("w007", 2)  # HGET on the index, then the record
    assert await trips("w059") == ("w059", 2)
    # an agent missing from the index (written by tinytown 0.10) is still found, by the scan,
    # and a lookup writes nothing (a read never changes the town)
    await town.redis.execute("HDEL", town.channel.keys.names, "w030")
    name, first = await trips("w030")
    assert name == "w030"
    assert first > 2
    assert await town.redis.execute("HGET", town.channel.keys.names, "w030") is None
    # a reference that is not an exact live name still resolves, by the scan
    record = await town.channel.require_agent((await town.resolve("w010"))[0])
    name, _ = await trips(record.short_id)
    assert name == "w010"
