"""``tt backlog`` through the real entry point: the book's workflow and failure safety."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _work_helpers import UUID_RE, assert_one_error_line, in_town, snapshot, spawn, uuids

from tinytown.models import TaskId, TaskState
from tinytown.town import Town


def test_book_workflow_add_list_claim(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend", "docs")
    first = tt("backlog", "add", "Investigate flaky auth integration test",
               "--tags", "test,auth,backend")
    assert first.code == 0, first.err
    assert re.fullmatch(
        rf"📋 Added task to backlog: {UUID_RE}\n"
        r"   Description: Investigate flaky auth integration test\n",
        first.out,
    )
    second = tt("backlog", "add", "Document token refresh behavior", "--tags", "docs,api")
    (a,), (b,) = uuids(first.out), uuids(second.out)
    listing = tt("backlog", "list")
    assert listing.out == (
        "📋 Backlog (2 tasks):\n"
        "\n"
        f"   {a[:8]} ({a}) - Investigate flaky auth integration test [test, auth, backend]\n"
        f"   {b[:8]} ({b}) - Document token refresh behavior [docs, api]\n"
    )
    claim = tt("backlog", "claim", a, "backend")
    assert claim.out == f"✅ Claimed task {a} and assigned to 'backend'\n"
    assert tt("backlog", "claim", b, "docs").code == 0
    assert tt("backlog", "list").out == "📋 Backlog is empty\n"

    async def check(town: Town) -> None:
        for tid, agent in ((a, "backend"), (b, "docs")):
            task = await town.channel.require_task(TaskId.parse(tid))
            assert task.state is TaskState.ASSIGNED
            assert task.assigned_to == ids[agent]
            assert await town.channel.inbox_len(ids[agent]) == 1

    in_town(town_dir, check)


def test_list_long_descriptions_and_missing_records(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (tid,) = uuids(tt("backlog", "add", "y" * 70 + "\nsecond line").out)
    ghost = TaskId.new()
    in_town(town_dir, lambda town: town.channel.backlog_push(ghost))
    lines = tt("backlog", "list").lines
    assert lines[2] == f"   {tid[:8]} ({tid}) - {'y' * 60}..."
    assert lines[3] == f"   {str(ghost)[:8]} ({ghost}) - (task not found)"
    doc = json.loads(tt("backlog", "list", "--json").out)
    assert doc["count"] == 2
    assert doc["entries"][1] == {"task_id": str(ghost), "task": None}
    assert doc["entries"][0]["task"]["id"] == tid


def test_assign_all_and_remove(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend")
    assert tt("backlog", "assign-all", "backend").out == "📋 Backlog is empty, no tasks to assign\n"
    for i in range(3):
        tt("backlog", "add", f"job {i}")
    (extra,) = uuids(tt("backlog", "add", "mistake").out)
    assert tt("backlog", "remove", extra).out == f"✅ Removed task {extra} from backlog\n"
    result = tt("backlog", "assign-all", "backend")
    assert result.out == "✅ Assigned 3 task(s) from backlog to 'backend'\n"

    async def check(town: Town) -> tuple[int, int, object]:
        return (
            await town.channel.inbox_len(ids["backend"]),
            await town.channel.backlog_len(),
            await town.channel.get_task(TaskId.parse(extra)),
        )

    assert in_town(town_dir, check) == (3, 0, None)


BAD_INPUT = [
    (["backlog", "claim", "{task}", "ghost"], 3, "Error: Agent not found: ghost"),
    (["backlog", "claim", "{other}", "backend"], 3, "Error: Task {other} not found in backlog"),
    (["backlog", "claim", "nope", "backend"], 6, "Error: Invalid task ID: 'nope' is not a UUID"),
    (["backlog", "claim", "{task}"], 2, "Error: "),
    (["backlog", "assign-all", "ghost"], 3, "Error: Agent not found: ghost"),
    (["backlog", "remove", "{other}"], 3, "Error: Task {other} not found in backlog"),
    (["backlog", "remove", "nope"], 6, "Error: Invalid task ID"),
    (["backlog", "add", "  "], 6, "Error: Task description must not be empty"),
    (["backlog", "add", "x", "--tags"], 2, "Error: "),
    (["backlog", "list", "extra"], 2, "Error: "),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_fails_cleanly_and_changes_nothing(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], code: int, message: str
) -> None:
    spawn(town_dir, "backend")
    (task,) = uuids(tt("backlog", "add", "Keep me in the backlog").out)
    (other,) = uuids(tt("assign", "backend", "Assigned, not in the backlog").out)
    before = snapshot(town_dir)
    fill = {"task": task, "other": other}
    result = tt(*[a.format(**fill) for a in args])
    assert result.code == code, (result.out, result.err)
    assert_one_error_line(result.err, message.format(**fill))
    assert result.out == ""
    assert snapshot(town_dir) == before


def test_no_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    for args in (["backlog", "list"], ["backlog", "add", "x"]):
        result = tt_nowhere(*args)
        assert result.code == 4
        assert_one_error_line(result.err, "Error: Town not initialized")
