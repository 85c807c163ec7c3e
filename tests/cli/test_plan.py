"""``tt plan`` and ``tt sync`` through the real CLI, pinned to the book's outputs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from tinytown.models import Agent, Task
from tinytown.services.plan_file import TEMPLATE
from tinytown.town import Town, utcnow

T = TypeVar("T")

FIVE_TASKS = """\
[meta]
description = "Auth API Pipeline"

[[tasks]]
id = "design"
description = "Design a REST API for user authentication with JWT tokens"
agent = "architect"
status = "pending"

[[tasks]]
id = "implement"
description = "Implement the auth API from the architect's design"
agent = "developer"
status = "pending"
parent = "design"

[[tasks]]
id = "test"
description = "Write comprehensive tests for the auth API"
agent = "tester"
status = "pending"
parent = "implement"

[[tasks]]
id = "review"
description = "Code review"
agent = "reviewer"
status = "assigned"
parent = "test"

[[tasks]]
id = "docs"
description = "Write the docs"
status = "completed"
tags = ["docs"]
"""


def in_town(town_dir: Path, fn: Callable[[Town], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Town.connect(town_dir) as town:
            return await fn(town)

    return trio.run(main)


def all_tasks(town_dir: Path) -> list[Task]:
    return in_town(town_dir, lambda town: town.channel.list_tasks())


def snapshot(town_dir: Path) -> dict[str, Any]:
    async def body(town: Town) -> dict[str, Any]:
        keys = sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern))
        pipe = town.redis.pipeline()
        for key in keys:
            pipe.cmd("DUMP", key)
        return dict(zip(keys, await pipe.execute(), strict=True)) if keys else {}

    return in_town(town_dir, body)


# --- tt plan ------------------------------------------------------------------------------------


def test_plan_init_and_view_match_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = tt("plan", "--init")
    assert (result.code, result.out) == (0, "📝 Created tasks.toml - edit it to plan your work!\n")
    assert (town_dir / "tasks.toml").read_text() == TEMPLATE
    assert tt("plan").out == (
        "📋 Tasks in plan (./tasks.toml):\n"
        "  ⏳ [unassigned] example-1 - Example task - replace with your own\n"
    )


def test_plan_shows_icons_and_agents(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (town_dir / "tasks.toml").write_text(FIVE_TASKS)
    assert tt("plan").lines == [
        "📋 Tasks in plan (./tasks.toml):",
        "  ⏳ [architect] design - Design a REST API for user authentication with JWT tokens",
        "  ⏳ [developer] implement - Implement the auth API from the architect's design",
        "  ⏳ [tester] test - Write comprehensive tests for the auth API",
        "  📌 [reviewer] review - Code review",
        "  ✅ [unassigned] docs - Write the docs",
    ]
    doc = json.loads(tt("plan", "--json").out)
    assert doc["exists"] is True
    assert doc["meta"]["description"] == "Auth API Pipeline"
    assert [t["id"] for t in doc["tasks"]] == ["design", "implement", "test", "review", "docs"]
    assert doc["tasks"][1]["parent"] == "design"


def test_plan_without_a_file(tt) -> None:  # type: ignore[no-untyped-def]
    assert tt("plan").out == "No tasks.toml found. Run 'tt plan --init' first.\n"
    assert json.loads(tt("plan", "--json").out) == {
        "path": "./tasks.toml",
        "exists": False,
        "meta": None,
        "tasks": [],
    }


def test_plan_works_without_a_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    assert tt_nowhere("plan", "-i").code == 0
    assert tt_nowhere("plan").lines[1].startswith("  ⏳ [unassigned] example-1")


def test_plan_init_does_not_overwrite_without_force(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (town_dir / "tasks.toml").write_text(FIVE_TASKS)
    refused = tt("plan", "--init")
    assert refused.code == 7
    assert refused.err == (
        "Error: ./tasks.toml already exists; use 'tt plan --init --force' to overwrite it\n"
    )
    assert (town_dir / "tasks.toml").read_text() == FIVE_TASKS
    assert tt("plan", "--init", "--force").code == 0
    assert (town_dir / "tasks.toml").read_text() == TEMPLATE


# --- tt sync ------------------------------------------------------------------------------------


def test_sync_push_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (town_dir / "tasks.toml").write_text(FIVE_TASKS)

    async def team(town: Town) -> None:
        for name in ("architect", "developer"):
            await town.channel.set_agent(Agent.new(name, "claude", utcnow()))

    in_town(town_dir, team)
    result = tt("sync", "push")
    assert (result.code, result.out, result.err) == (
        0,
        "⬆️  Pushed 5 tasks from tasks.toml to Redis\n"
        "   📋 Assigned 1 task(s) to 'architect'\n"
        "   📋 Assigned 1 task(s) to 'developer'\n"
        "   📥 Put 2 task(s) in the backlog\n",
        "⚠️  No agent named reviewer, tester: their tasks went to the backlog "
        "('tt backlog claim <task> <agent>' once spawned)\n",
    )
    tasks = all_tasks(town_dir)
    assert sorted(t.plan_id or "" for t in tasks) == [
        "design",
        "docs",
        "implement",
        "review",
        "test",
    ]
    by_plan = {t.plan_id: t for t in tasks}
    assert by_plan["docs"].state.value == "completed"
    assert by_plan["review"].state.value == "pending"  # no such agent: in the backlog
    assert by_plan["design"].state.value == "assigned"
    assert by_plan["implement"].parent_id == by_plan["design"].id
    again = tt("sync")  # push is the default, and does not duplicate
    assert again.out == (
        "⬆️  Pushed 0 tasks from tasks.toml to Redis\n"
        "   Skipped 5 already in Redis: design, implement, test, review, docs\n"
    )
    assert len(all_tasks(town_dir)) == 5


def test_sync_pull_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (town_dir / "tasks.toml").write_text(FIVE_TASKS)
    tt("sync", "push")

    async def work(town: Town) -> None:
        dev = Agent.new("dev-1", "claude", utcnow())
        await town.channel.set_agent(dev)
        for task in await town.channel.list_tasks():
            if task.plan_id == "design":
                await town.channel.set_task(task.completed("designed", utcnow()))
            if task.plan_id == "implement":
                await town.channel.set_task(task.assigned(dev.id, utcnow()))

    in_town(town_dir, work)
    result = tt("sync", "pull")
    assert (result.code, result.out) == (0, "⬇️  Pulled 5 tasks from Redis to tasks.toml\n")
    view = tt("plan").lines
    assert view[1] == (
        "  ✅ [architect] design - Design a REST API for user authentication with JWT tokens"
    )
    assert view[2] == "  📌 [dev-1] implement - Implement the auth API from the architect's design"
    assert view[4] == "  ⏳ [reviewer] review - Code review"  # the snapshot: pending in Redis


def test_sync_pull_adds_plan_tasks_missing_from_the_file(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    async def body(town: Town) -> None:
        await town.channel.set_task(Task.new("From another clone", utcnow(), tags=["plan:extra"]))

    in_town(town_dir, body)
    result = tt("sync", "pull")
    assert result.out == (
        "⬇️  Pulled 1 tasks from Redis to tasks.toml\n"
        "   Added 1 task(s) not yet in the file: extra\n"
    )
    doc = json.loads(tt("plan", "--json").out)
    assert [(t["id"], t["description"]) for t in doc["tasks"]] == [("extra", "From another clone")]


def test_sync_pull_on_an_empty_town(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = tt("sync", "pull")
    assert result.out == (
        "⬇️  Pulled 0 tasks from Redis to tasks.toml\n"
        "   No plan tasks in Redis yet: wrote the tasks.toml template\n"
    )
    assert (town_dir / "tasks.toml").read_text() == TEMPLATE


def test_sync_json(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (town_dir / "tasks.toml").write_text(TEMPLATE)
    doc = json.loads(tt("sync", "push", "--json").out)
    assert [c["plan_id"] for c in doc["created"]] == ["example-1"]
    pulled = json.loads(tt("sync", "pull", "--json").out)
    assert (pulled["direction"], pulled["updated"], pulled["added"]) == ("pull", ["example-1"], [])


# --- bad input ----------------------------------------------------------------------------------

BAD_FILES = [
    ('[[tasks]]\nid = "a"\ndescription = "x\n', "line 3"),
    ('[[tasks]]\nid = "a"\ndescription = "x"\nstatus = "later"\n', "line 4: unknown status"),
    ('[[tasks]]\nid = "a"\n', "missing or empty 'description'"),
]


@pytest.mark.parametrize("command", [["plan"], ["sync", "push"], ["sync", "pull"]])
@pytest.mark.parametrize(("content", "text"), BAD_FILES)
def test_bad_plan_files(tt, town_dir: Path, command: list[str], content: str, text: str) -> None:  # type: ignore[no-untyped-def]
    (town_dir / "tasks.toml").write_text(content)
    before = snapshot(town_dir)
    result = tt(*command)
    assert result.code == 6
    assert result.err.count("\n") == 1
    assert result.err.startswith("Error: ")
    assert text in result.err
    assert (town_dir / "tasks.toml").read_text() == content
    assert snapshot(town_dir) == before


BAD_ARGS = [
    (["sync", "sideways"], 2, "sideways"),
    (["sync", "push", "pull"], 2, "pull"),
    (["sync", "--bogus"], 2, "--bogus"),
    (["plan", "--bogus"], 2, "--bogus"),
    (["sync", "push"], 6, "No tasks.toml found"),
]


@pytest.mark.parametrize(
    ("args", "code", "text"), BAD_ARGS, ids=[" ".join(a) for a, _, _ in BAD_ARGS]
)
def test_bad_arguments(tt, town_dir: Path, args: list[str], code: int, text: str) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code
    assert result.err.count("\n") == 1
    assert result.err.startswith("Error: ")
    assert text in result.err
    assert not (town_dir / "tasks.toml").exists()
    assert snapshot(town_dir) == before


def test_sync_needs_a_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    result = tt_nowhere("sync")
    assert result.code == 4
    assert result.err.count("\n") == 1
