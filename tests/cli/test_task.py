"""``tt task complete|show|list|current`` through the real entry point (book outputs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _work_helpers import assert_one_error_line, in_town, snapshot, spawn, uuids

from tinytown.models import AgentId, Task, TaskId, TaskState
from tinytown.town import Town

BOOK_ID = "550e8400-e29b-41d4-a716-446655440000"
OTHER_ID = "660e9500-e29b-41d4-a716-446655440000"


def _at(minute: int) -> datetime:
    return datetime(2025, 3, 9, 12, minute, tzinfo=UTC)


def _put(town_dir: Path, *tasks: Task) -> None:
    async def body(town: Town) -> None:
        await town.channel.set_tasks(tasks)

    in_town(town_dir, body)


def _book_task(agent: AgentId, tid: str = BOOK_ID, desc: str = "Fix authentication bug") -> Task:
    return Task(
        id=TaskId.parse(tid),
        description=desc,
        created_at=_at(0),
        updated_at=_at(5),
        state=TaskState.RUNNING,
        assigned_to=agent,
        started_at=_at(1),
        tags=["backend", "auth"],
    )


def test_complete_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (task_id,) = uuids(tt("backlog", "add", "Fix authentication bug").out)
    result = tt("task", "complete", task_id, "--result", "Fixed the bug")
    assert result.code == 0, result.err
    assert result.lines == [
        f"✅ Task {task_id} marked as completed",
        "   Description: Fix authentication bug",
        "   Result: Fixed the bug",
    ]
    shown = tt("task", "show", task_id).lines
    assert "   State: Completed" in shown
    assert "   Result: Fixed the bug" in shown


def test_complete_settles_the_agent(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend")
    (task_id,) = uuids(tt("assign", "backend", "Ship it").out)
    in_town(
        town_dir,
        lambda town: town.channel.update_agent(ids["backend"], current_task=TaskId.parse(task_id)),
    )
    result = tt("task", "complete", task_id)
    assert result.lines == [
        f"✅ Task {task_id} marked as completed",
        "   Description: Ship it",
        "   Result: Completed",
        "   Cleared current assignment pointer for agent",
        "   Agent tasks completed: 1",
    ]
    again = tt("task", "complete", task_id)
    assert again.lines[-2:] == [
        "   Agent tasks completed: 1",
        "   (It had already ended: not counted again.)",
    ]


def test_show_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend-1")
    _put(town_dir, _book_task(ids["backend-1"]))
    result = tt("task", "show", BOOK_ID)
    assert result.code == 0, result.err
    assert result.out == (
        f"📋 Task: {BOOK_ID}\n"
        "   Description: Fix authentication bug\n"
        "   State: Running\n"
        "   Assigned to: backend-1\n"
        "   Created: 2025-03-09T12:00:00Z\n"
        "   Updated: 2025-03-09T12:05:00Z\n"
        "   Started: 2025-03-09T12:01:00Z\n"
        "   Tags: backend, auth\n"
    )
    doc = json.loads(tt("task", "show", BOOK_ID, "--json").out)
    assert doc["id"] == BOOK_ID
    assert doc["assignee_name"] == "backend-1"
    assert doc["state"] == "running"
    assert doc["tags"] == ["backend", "auth"]


def test_list_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend-1", "backend-2")
    second = _book_task(ids["backend-2"], OTHER_ID, "Update API endpoints")
    second.created_at = _at(2)
    _put(town_dir, _book_task(ids["backend-1"]), second)
    tt("backlog", "add", "Write integration tests")
    result = tt("task", "list", "--state", "running")
    assert result.code == 0, result.err
    assert result.out == (
        "📋 Tasks (2):\n"
        "   🔄 550e8400-... - Fix authentication bug [backend-1]\n"
        "   🔄 660e9500-... - Update API endpoints [backend-2]\n"
    )
    everything = tt("task", "list").lines
    assert everything[0] == "📋 Tasks (3):"
    assert everything[3].endswith(" - Write integration tests [unassigned]")
    assert everything[3].startswith("   ⏳ ")
    assert tt("task", "list", "--state", "FAILED").out == (
        "📋 No tasks found with state 'FAILED'\n"
    )
    doc = json.loads(tt("task", "list", "--state", "running", "--json").out)
    assert doc["count"] == 2
    assert doc["state"] == "running"
    assert [t["assignee_name"] for t in doc["tasks"]] == ["backend-1", "backend-2"]


def test_list_without_tasks(tt) -> None:  # type: ignore[no-untyped-def]
    assert tt("task", "list").out == "📋 No tasks found\n"


def test_current(tt, town_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend")
    assert tt("task", "current", "backend").out == "📭 No current task tracked for 'backend'\n"
    (task_id,) = uuids(tt("assign", "backend", "Build the API").out)
    result = tt("task", "current", "backend")
    assert result.lines == [
        f"📋 Current task for 'backend': {task_id[:8]} ({task_id})",
        "   Description: Build the API",
        "   State: Assigned",
        f'   Complete with: tt task complete {task_id} --result "what was done"',
    ]
    monkeypatch.setenv("TINYTOWN_AGENT_ID", str(ids["backend"]))
    assert tt("task", "current").lines == result.lines
    doc = json.loads(tt("task", "current", "--json").out)
    assert doc["agent_name"] == "backend"
    assert doc["task"]["id"] == task_id


BAD_INPUT = [
    (["task", "complete", "nope"], 6, "Error: Invalid task ID: 'nope' is not a UUID"),
    (["task", "complete", BOOK_ID], 3, f"Error: Task not found: {BOOK_ID}"),
    (["task", "show", "nope"], 6, "Error: Invalid task ID"),
    (["task", "show", BOOK_ID], 3, f"Error: Task not found: {BOOK_ID}"),
    (["task", "list", "--state", "done"], 2, "Error: Unknown state filter: done. Valid: "),
    (["task", "current"], 3, "Error: Agent not found: No current agent context found."),
    (["task", "current", "ghost"], 3, "Error: Agent not found: ghost"),
    (["task", "complete"], 2, "Error: "),
    (["task", "bogus"], 2, "Error: Unknown command"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_fails_cleanly_and_changes_nothing(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], code: int, message: str
) -> None:
    spawn(town_dir, "backend")
    tt("assign", "backend", "existing work")
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code, (result.out, result.err)
    assert_one_error_line(result.err, message)
    assert result.out == ""
    assert snapshot(town_dir) == before


def test_no_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    for args in (["task", "list"], ["task", "show", BOOK_ID], ["task", "complete", BOOK_ID]):
        result = tt_nowhere(*args)
        assert result.code == 4
        assert_one_error_line(result.err, "Error: Town not initialized")


def test_short_task_ids_as_task_list_shows_them_are_accepted(tt) -> None:  # type: ignore[no-untyped-def]
    import re as _re

    out = tt("backlog", "add", "Write the changelog").out
    full = _re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
    assert full is not None, out
    task_id = full.group(0)
    shown = tt("task", "show", task_id[:8] + "-...")
    assert shown.code == 0, shown.err
    assert task_id in shown.out
    done = tt("task", "complete", task_id[:6], "--result", "ok")
    assert done.code == 0, done.err
    missing = tt("task", "show", "ffff0000")
    if not task_id.startswith("ffff0000"):
        assert missing.code == 3
        assert missing.err.startswith("Error: Task not found: ffff0000")
    assert tt("task", "show", "zz").code == 6


def test_complete_several_in_one_command(tt) -> None:  # type: ignore[no-untyped-def]
    (a,) = uuids(tt("backlog", "add", "First part").out)
    (b,) = uuids(tt("backlog", "add", "Second part").out)
    done = tt("task", "complete", a, b, "--result", "did one", "--result", "did two")
    assert done.code == 0, done.err
    assert f"✅ Task {a} marked as completed" in done.lines
    assert "   Result: did one" in done.lines
    assert f"✅ Task {b} marked as completed" in done.lines
    assert "   Result: did two" in done.lines
    shown = json.loads(tt("task", "show", b, "--json").out)
    assert (shown["state"], shown["result"]) == ("completed", "did two")


def test_complete_several_reports_each_failure_and_completes_the_rest(tt) -> None:  # type: ignore[no-untyped-def]
    (a,) = uuids(tt("backlog", "add", "Real work").out)
    done = tt("task", "complete", BOOK_ID, a)
    assert done.code == 3
    assert done.err == f"Error: Task not found: {BOOK_ID}\n"
    assert f"✅ Task {a} marked as completed" in done.lines
    assert "   Result: Completed" in done.lines
    mismatch = tt("task", "complete", a, BOOK_ID, "--result", "x", "--result", "y",
                  "--result", "z")
    assert mismatch.code == 2
    assert_one_error_line(mismatch.err, "Error: 2 tasks but 3 --result values")
