"""The one script package: every script loads, shares the task state table, one activity writer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tinytown import scripts
from tinytown.keys import ACTIVITY_KEEP, ACTIVITY_TTL_S, Keys
from tinytown.models import TaskState
from tinytown.models.enums import TASK_MOVES
from tinytown.redis.client import Redis
from tinytown.redis.script import Script

PKG = Path(__file__).resolve().parent.parent / "tinytown"
ALL = {name: s for name, s in vars(scripts).items() if isinstance(s, Script)}


def test_no_lua_outside_the_script_module() -> None:
    """Lua lives in the tinytown/scripts/ package only (redis/script.py shows the API)."""
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path.parent == PKG / "scripts" or path == PKG / "redis" / "script.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "redis.call(" in node.value:
                    offenders.append(str(path.relative_to(PKG)))
            if isinstance(node, ast.Constant) and node.value in ("EVAL", "EVALSHA"):
                offenders.append(f"{path.relative_to(PKG)} (inline {node.value})")
    assert not offenders, offenders


@pytest.mark.parametrize("name", sorted(ALL))
async def test_every_script_compiles(redis: Redis, name: str) -> None:
    await ALL[name].load(redis)  # SCRIPT LOAD compiles the source
    assert await redis.execute("SCRIPT", "EXISTS", ALL[name].sha) == [1]


def test_can_become_reads_the_shared_table() -> None:
    for state in TaskState:
        for other in TaskState:
            assert state.can_become(other) == (other in TASK_MOVES[state])


@pytest.mark.parametrize("state", list(TaskState))
async def test_start_task_follows_the_transition_table(
    redis: Redis, town_name: str, state: TaskState
) -> None:
    """START_TASK starts exactly the tasks whose state may become running."""
    keys = Keys(town_name)
    agent, task = keys.agent("a"), keys.task("t")
    await redis.execute("HSET", agent, "incarnation", "1")
    await redis.execute("HSET", task, "state", state.value)
    started = await scripts.START_TASK(redis, [agent, task], [1, "2026-01-01T00:00:00Z"])
    expected = state is not TaskState.RUNNING and state.can_become(TaskState.RUNNING)
    assert bool(started) == expected
    after = TaskState(await redis.execute("HGET", task, "state"))
    assert after is (TaskState.RUNNING if expected or state is TaskState.RUNNING else state)


async def test_start_task_is_refused_to_a_superseded_actor(redis: Redis, town_name: str) -> None:
    keys = Keys(town_name)
    agent, task = keys.agent("a"), keys.task("t")
    await redis.execute("HSET", agent, "incarnation", "2")
    await redis.execute("HSET", task, "state", TaskState.ASSIGNED.value)
    assert await scripts.START_TASK(redis, [agent, task], [1, "now"]) == scripts.SUPERSEDED
    assert await redis.execute("HGET", task, "state") == TaskState.ASSIGNED.value


@pytest.mark.parametrize(
    ("owner", "reverted"), [("me", True), (None, True), ("someone-else", False)]
)
async def test_both_reverts_share_one_rule(
    redis: Redis, town_name: str, owner: str | None, reverted: bool
) -> None:
    """The actor's revert and recovery's revert treat a running task the same way."""
    keys = Keys(town_name)
    for n, (script, args) in enumerate(
        [(scripts.REVERT_TASK, [1, "now", "me"]), (scripts.RECOVER_TASK, ["me", "now"])]
    ):
        agent, task = keys.agent(f"a{n}"), keys.task(f"t{n}")
        await redis.execute("HSET", agent, "incarnation", "1", "current_task", f"t{n}")
        await redis.execute("HSET", task, "state", TaskState.RUNNING.value)
        if owner:
            await redis.execute("HSET", task, "assigned_to", owner)
        assert bool(await script(redis, [agent, task], args)) == reverted
        state = await redis.execute("HGET", task, "state")
        assert state == (TaskState.ASSIGNED if reverted else TaskState.RUNNING).value
        if reverted:
            assert await redis.execute("HGET", task, "assigned_to") == "me"


async def test_push_activity_keeps_the_newest_lines(redis: Redis, town_name: str) -> None:
    key = Keys(town_name).activity("a")
    for i in range(ACTIVITY_KEEP + 3):
        assert await scripts.PUSH_ACTIVITY(redis, [key], [f"line {i}"]) == 1
    lines = await redis.execute("LRANGE", key, 0, -1)
    assert lines == [f"line {i}" for i in range(ACTIVITY_KEEP + 2, 2, -1)]
    assert 0 < await redis.execute("TTL", key) <= ACTIVITY_TTL_S


async def test_push_activity_leaves_a_key_of_another_type_alone(
    redis: Redis, town_name: str
) -> None:
    key = Keys(town_name).activity("a")
    await redis.execute("SET", key, "not a list")
    assert await scripts.PUSH_ACTIVITY(redis, [key], ["line"]) == 0
    assert await redis.execute("GET", key) == "not a list"
