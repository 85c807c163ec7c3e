"""Town-wide operations: stop every live agent, reset keys (all or agents only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tinytown.config import new_town_config, save_town_config
from tinytown.keys import Keys
from tinytown.models import Agent, AgentState, Task
from tinytown.redis.client import Redis
from tinytown.services import tasks
from tinytown.services.registration import register_agent
from tinytown.services.town_ops import (
    agents_to_stop,
    gitignore_has_tt,
    glob_escape,
    preview_reset,
    reset_patterns,
    reset_town,
    stop_all_agents,
    town_pattern,
)
from tinytown.town import Town

NOW = datetime(2026, 4, 20, 18, 22, 15, tzinfo=UTC)


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    save_town_config(tmp_path, new_town_config(town_name))
    async with Town.connect(tmp_path) as connected:
        yield connected


# --- pure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("plain-town", "plain-town"), ("a*", "a\\*"), ("q?[x]", "q\\?\\[x\\]"), ("b\\s", "b\\\\s")],
)
def test_glob_escape(text: str, escaped: str) -> None:
    assert glob_escape(text) == escaped


def test_town_pattern_escapes_only_the_town_part() -> None:
    keys = Keys("x*")
    assert town_pattern(keys, keys.pattern("agent")) == "tt:x\\*:agent:*"
    assert town_pattern(keys, keys.all_pattern) == "tt:x\\*:*"
    with pytest.raises(ValueError, match="not under"):
        town_pattern(keys, "tt:other:*")


def test_reset_patterns() -> None:
    keys = Keys("t")
    assert reset_patterns(keys, agents_only=False) == ["tt:t:*"]
    only = reset_patterns(keys, agents_only=True)
    for kind in ("agent", "inbox", "urgent", "processing", "stop", "activity", "events:agent"):
        assert f"tt:t:{kind}:*" in only
    assert "tt:t:task:*" not in only


def test_agents_to_stop_skips_terminal_states() -> None:
    agents = {state: Agent.new(f"a-{state.value}", "claude", NOW) for state in AgentState}
    for state, agent in agents.items():
        agent.state = state
    chosen = {a.state for a in agents_to_stop(agents.values())}
    assert chosen == {
        AgentState.STARTING,
        AgentState.IDLE,
        AgentState.WORKING,
        AgentState.PAUSED,
        AgentState.DRAINING,
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, False), ("", False), ("node_modules\n", False), (".tt\n", True), (".tt/\n", True),
     ("/.tt\n", True), ("  .tt  \n", True), (".tt-old\n", False)],
)  # fmt: skip
def test_gitignore_has_tt(tmp_path: Path, content: str | None, expected: bool) -> None:
    if content is not None:
        (tmp_path / ".gitignore").write_text(content)
    assert gitignore_has_tt(tmp_path) is expected


# --- stop ---------------------------------------------------------------------------


async def test_stop_asks_every_live_agent_and_leaves_terminal_ones(town: Town) -> None:
    live = [await register_agent(town, n, "claude") for n in ("a", "b")]
    working = await register_agent(town, "c", "claude")
    await town.channel.set_agent_state(working.id, AgentState.WORKING)
    done = await register_agent(town, "d", "claude")
    await town.channel.set_agent_state(done.id, AgentState.ERROR)

    asked = await stop_all_agents(town)

    assert {a.id for a in asked} == {live[0].id, live[1].id, working.id}
    for handle in (*live, working):
        assert await town.channel.get_agent_state(handle.id) is AgentState.STOPPED
        assert await town.channel.should_stop(handle.id)
    assert await town.channel.get_agent_state(done.id) is AgentState.ERROR
    assert not await town.channel.should_stop(done.id)
    assert await stop_all_agents(town) == []


# --- reset --------------------------------------------------------------------------


async def _populate(town: Town) -> None:
    a = await register_agent(town, "worker", "claude")
    await tasks.assign(town, str(a.id), "first task")
    await town.channel.log_activity(a.id, "did things")
    await town.redis.execute("SET", town.channel.keys.stop(a.id), "1")
    task = Task.new("parked", NOW)
    await town.channel.set_task(task)
    await town.channel.backlog_push(task.id)


async def _town_keys(redis: Redis, name: str) -> list[str]:
    keys: list[str] = await redis.execute("KEYS", town_pattern(Keys(name), Keys(name).all_pattern))
    return sorted(keys)


async def test_preview_counts_and_changes_nothing(town: Town) -> None:
    await _populate(town)
    before = await _town_keys(town.redis, town.name)
    preview = await preview_reset(town, agents_only=False)
    assert (preview.agents, preview.tasks, preview.backlog) == (1, 2, 1)
    only = await preview_reset(town, agents_only=True)
    assert (only.agents, only.tasks, only.backlog) == (1, 0, 0)
    assert await _town_keys(town.redis, town.name) == before


async def test_full_reset_deletes_every_key_of_the_town_only(town: Town, redis: Redis) -> None:
    await _populate(town)
    # Another town whose name the unescaped pattern "tt:<name>*" would match too.
    neighbour = f"{town.name}x"
    await redis.execute("SET", Keys(neighbour).agent("1"), "keep")
    n_keys = len(await _town_keys(town.redis, town.name))
    try:
        assert await reset_town(town, agents_only=False) == n_keys
        # Only the town's epoch is left: the town goes on, emptied (tinytown.epoch).
        assert await _town_keys(town.redis, town.name) == [town.channel.keys.epoch]
        assert await redis.execute("GET", Keys(neighbour).agent("1")) == "keep"
        assert await reset_town(town, agents_only=False) == 0
    finally:
        await redis.execute("DEL", Keys(neighbour).agent("1"))


async def test_glob_town_name_does_not_reach_other_towns(
    tmp_path: Path, redis_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    save_town_config(tmp_path, new_town_config("glob*"))
    await redis.execute("SET", Keys("globber").backlog, "other town")
    try:
        async with Town.connect(tmp_path) as town:
            await town.redis.execute("SET", Keys("glob*").backlog, "mine")
            assert await reset_town(town, agents_only=False) == 1
        assert await redis.execute("GET", Keys("globber").backlog) == "other town"
    finally:
        await redis.execute("DEL", Keys("globber").backlog)


async def test_agents_only_reset_keeps_tasks_and_backlog(town: Town) -> None:
    await _populate(town)
    deleted = await reset_town(town, agents_only=True)
    assert deleted == 5  # agent record, inbox, activity, stop flag, agent event stream
    keys = Keys(town.name)
    remaining = await _town_keys(town.redis, town.name)
    assert keys.backlog in remaining
    assert sum(1 for k in remaining if k.startswith(keys.prefix + "task:")) == 2
    assert not [
        k for k in remaining if k.startswith((keys.prefix + "agent:", keys.prefix + "inbox:"))
    ]
    assert await town.list_agents() == []
