"""``tt migrate``: legacy keys into the town (RENAMENX), JSON records into hashes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tinytown.codec import agent_to_json, task_to_json
from tinytown.config import new_town_config, save_town_config
from tinytown.errors import CorruptRecordError
from tinytown.keys import Keys
from tinytown.models import Agent, AgentId, Task
from tinytown.services.migrate import (
    is_legacy_key,
    json_to_hash_fields,
    migrate_hash,
    migrate_isolation,
    plan_isolation,
    preview_hash,
    preview_isolation,
)
from tinytown.services.registration import register_agent
from tinytown.town import Town

NOW = datetime(2026, 4, 20, 18, 22, 15, 123456, tzinfo=UTC)
A1 = "11111111-1111-4111-8111-111111111111"
T1 = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
async def town(
    tmp_path: Path,
    redis_server_factory: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Town]:
    """A town on a private server: legacy keys are server-wide, so no sharing."""
    private = redis_server_factory()
    monkeypatch.setenv("REDIS_URL", private.url)
    save_town_config(tmp_path, new_town_config("proj"))
    async with Town.connect(tmp_path) as connected:
        yield connected


async def _all_keys(town: Town) -> dict[str, str]:
    keys: list[str] = await town.redis.execute("KEYS", "*")
    types = [await town.redis.execute("TYPE", k) for k in keys]
    return dict(zip(keys, types, strict=True))


# --- pure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "legacy"),
    [(f"tt:agent:{A1}", True), (f"tt:inbox:{A1}", True), (f"tt:urgent:{A1}", True),
     (f"tt:task:{T1}", True), (f"tt:activity:{A1}", True), (f"tt:stop:{A1}", True),
     ("tt:backlog", True), ("tt:broadcast", True),
     (f"tt:proj:agent:{A1}", False), ("tt:proj:backlog", False), ("tt:agent:", False),
     ("tt:events:x", False), (f"tt:agent:agent:{A1}", False), ("other:agent:x", False)],
)  # fmt: skip
def test_is_legacy_key(key: str, legacy: bool) -> None:
    assert is_legacy_key(key) is legacy


def test_plan_isolation_maps_and_orders() -> None:
    keys = [f"tt:task:{T1}", "tt:backlog", f"tt:inbox:{A1}", "tt:proj:backlog", f"tt:agent:{A1}"]
    assert plan_isolation("proj", keys) == [
        (f"tt:agent:{A1}", f"tt:proj:agent:{A1}"),
        (f"tt:inbox:{A1}", f"tt:proj:inbox:{A1}"),
        (f"tt:task:{T1}", f"tt:proj:task:{T1}"),
        ("tt:backlog", "tt:proj:backlog"),
    ]


def test_json_to_hash_fields_keeps_every_field() -> None:
    agent = Agent.new("backend", "claude", NOW, role_id="backend", agent_id=AgentId.parse(A1))
    fields, _ = json_to_hash_fields("agent", agent_to_json(agent), "k")
    assert fields["nickname"] == agent.nickname
    assert fields["role_id"] == "backend"
    assert fields["name"] == "backend"
    task = Task.new("Build it", NOW, tags=["a", "b"])
    fields, empty = json_to_hash_fields("task", task_to_json(task), "k")
    assert fields["tags"] == '["a","b"]'
    assert "assigned_to" in empty
    with pytest.raises(CorruptRecordError):
        json_to_hash_fields("task", "{not json", "k")
    with pytest.raises(CorruptRecordError):
        json_to_hash_fields("agent", '{"id": "nope"}', "k")


# --- town isolation ---------------------------------------------------------------------


async def test_preview_changes_nothing_and_migrate_renames(town: Town) -> None:
    await town.redis.execute("SET", f"tt:agent:{A1}", "{}")
    await town.redis.execute("RPUSH", f"tt:inbox:{A1}", "m1", "m2")
    await town.redis.execute("SET", f"tt:task:{T1}", "{}")
    await town.redis.execute("RPUSH", "tt:backlog", T1)
    await town.redis.execute("SET", f"tt:stop:{A1}", "1")
    before = await _all_keys(town)

    plan = await preview_isolation(town)
    assert len(plan) == 5
    assert await _all_keys(town) == before

    report = await migrate_isolation(town)
    assert report.failed == []
    assert (report.count("agent"), report.count("inbox"), report.count("task")) == (1, 1, 1)
    assert report.other == 2
    keys = Keys("proj")
    assert await town.redis.execute("LRANGE", keys.inbox(A1), 0, -1) == ["m1", "m2"]
    assert await town.redis.execute("LRANGE", keys.backlog, 0, -1) == [T1]
    assert await preview_isolation(town) == []
    assert (await migrate_isolation(town)).counts == {}


async def test_migrate_never_overwrites_an_existing_town_key(town: Town) -> None:
    keys = Keys("proj")
    await town.redis.execute("RPUSH", f"tt:inbox:{A1}", "old")
    await town.redis.execute("RPUSH", keys.inbox(A1), "live")
    await town.redis.execute("RPUSH", f"tt:inbox:{T1}", "fine")
    report = await migrate_isolation(town)
    assert [key for key, _ in report.failed] == [f"tt:inbox:{A1}"]
    assert "already exists" in report.failed[0][1]
    assert report.count("inbox") == 1
    assert await town.redis.execute("LRANGE", keys.inbox(A1), 0, -1) == ["live"]
    assert await town.redis.execute("LRANGE", f"tt:inbox:{A1}", 0, -1) == ["old"]


# --- JSON to hash ---------------------------------------------------------------------------


async def test_hash_migration_converts_json_records(town: Town) -> None:
    keys = Keys("proj")
    agent = Agent.new("backend", "claude", NOW, role_id="api", agent_id=AgentId.parse(A1))
    task = Task.new("Build it", NOW, tags=["x"])
    await town.redis.execute("SET", keys.agent(A1), agent_to_json(agent))
    await town.redis.execute("SET", keys.task(task.id), task_to_json(task))
    hashed = await register_agent(town, "already", "claude")
    await town.redis.execute("SET", keys.task(T1), "{broken")
    await town.redis.execute("RPUSH", keys.agent("odd"), "a list")

    before = await _all_keys(town)
    assert sorted(await preview_hash(town)) == sorted(
        [keys.agent(A1), keys.task(task.id), keys.task(T1)]
    )
    assert await _all_keys(town) == before

    report = await migrate_hash(town)
    assert (report.agents, report.tasks, report.already_hash) == (1, 1, 1)
    assert [k for k, _ in report.failed] == [keys.task(T1)]
    assert [k for k, _ in report.skipped] == [keys.agent("odd")]
    assert await town.redis.execute("GET", keys.task(T1)) == "{broken"  # untouched
    back = await town.channel.require_agent(AgentId.parse(A1))
    assert (back.name, back.nickname, back.role_id) == ("backend", agent.nickname, "api")
    assert back.created_at == agent.created_at
    again = await town.channel.require_task(task.id)
    assert (again.description, again.tags) == ("Build it", ["x"])
    assert {a.id for a in await town.list_agents()} == {agent.id, hashed.id}
    assert await preview_hash(town) == [keys.task(T1)]
