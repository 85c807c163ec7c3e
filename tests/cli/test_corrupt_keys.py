"""Corrupt or wrong-typed keys are reported and skipped by every town-wide command (item 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _work_helpers import in_town, spawn

from tinytown.models import AgentState
from tinytown.services import backlog, tasks
from tinytown.town import Town

TOWN_WIDE = [
    ["status"],
    ["status", "--deep", "--tasks"],
    ["list"],
    ["inbox", "--all"],
    ["tasks"],
    ["task", "list"],
    ["backlog", "list"],
    ["reclaim"],
    ["reclaim", "--to-backlog"],
    ["recover"],
    ["prune"],
]


def _corrupt_town(town_dir: Path) -> dict[str, Any]:
    ids = spawn(town_dir, "good", "dead", "victim")

    async def body(town: Town) -> None:
        keys = town.channel.keys
        await tasks.assign(town, "good", "still fine")
        await tasks.assign(town, "dead", "to reclaim")
        await backlog.add(town, "waiting")
        await town.channel.set_agent_state(ids["dead"], AgentState.STOPPED)
        await town.channel.set_agent_state(ids["victim"], AgentState.STOPPED)
        victim = ids["victim"]
        # One of each kind of damage: wrong types and undecodable values.
        await town.redis.execute("DEL", keys.agent(victim))
        await town.redis.execute("SET", keys.agent(victim), "not a hash")
        await town.redis.execute("SET", keys.inbox(ids["dead"]) + "x", "noise")
        await town.redis.execute("HSET", keys.urgent(ids["dead"]), "f", "v")
        await town.redis.execute("SET", keys.processing(ids["good"]), "not a list")
        await town.redis.execute("SET", keys.processing(ids["dead"]), "not a list")
        await town.redis.execute("SET", keys.activity(ids["good"]), "not a list")
        await town.redis.execute("RPUSH", keys.inbox(ids["good"]), "{not json")
        await town.redis.execute("SET", keys.task("0" * 8 + "-0000-4000-8000-" + "0" * 12), "x")
        await town.redis.execute("HSET", keys.task("not-a-uuid"), "id", "garbage")
        await town.redis.execute("RPUSH", keys.backlog, "not-a-task-id")
        await town.redis.execute("SET", keys.names, "not a hash")
        await town.redis.execute("SET", keys.stop(ids["good"]), "1")

    in_town(town_dir, body)
    return ids


@pytest.mark.parametrize("args", TOWN_WIDE, ids=" ".join)
def test_town_wide_commands_skip_corrupt_keys(tt, town_dir: Path, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _corrupt_town(town_dir)
    res = tt(*args)
    assert "Traceback" not in res.err, res.err
    assert res.code == 0, (args, res.err)
