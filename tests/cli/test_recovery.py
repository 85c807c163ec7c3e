"""``tt recover`` and ``tt reclaim`` through the real CLI, pinned to the book's outputs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from tinytown.cli.commands.recovery import format_silence
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Message,
    MessageKind,
    MessageType,
    Task,
    TaskId,
    TaskState,
)
from tinytown.town import Town, utcnow

T = TypeVar("T")

BOOK_IDS = (
    "550e8400-e29b-41d4-a716-446655440000",
    "660e9500-e29b-41d4-a716-446655440111",
    "770f0600-e29b-41d4-a716-446655440222",
)


def in_town(town_dir: Path, fn: Callable[[Town], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Town.connect(town_dir) as town:
            return await fn(town)

    return trio.run(main)


def seed(town_dir: Path, *agents: tuple[str, AgentState, float]) -> list[Agent]:
    """Agents one second apart; the float is seconds since the last heartbeat."""

    async def body(town: Town) -> list[Agent]:
        now = utcnow()
        made = []
        for i, (name, state, silent_s) in enumerate(agents):
            rec = Agent.new(name, "claude", now - timedelta(hours=2) + timedelta(seconds=i))
            rec.state = state
            rec.last_heartbeat = now - timedelta(seconds=silent_s)
            await town.channel.set_agent(rec)
            made.append(rec)
        return made

    return in_town(town_dir, body)


def send(town_dir: Path, to: Agent, *kinds: MessageKind) -> None:
    async def body(town: Town) -> None:
        await town.channel.send_many([Message(from_=SUPERVISOR, to=to.id, kind=k) for k in kinds])

    in_town(town_dir, body)


def snapshot(town_dir: Path) -> dict[str, Any]:
    async def body(town: Town) -> dict[str, Any]:
        keys = sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern))
        pipe = town.redis.pipeline()
        for key in keys:
            pipe.cmd("DUMP", key)
        return dict(zip(keys, await pipe.execute(), strict=True)) if keys else {}

    return in_town(town_dir, body)


def assign(tid: str) -> MessageKind:
    return MessageType.TaskAssign(task_id=tid)


def text(description: str) -> MessageKind:
    return MessageType.Task(description=description)


# --- tt recover ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (305, "5m"),
        (3599, "59m"),
        (3600, "1h 0m"),
        (7380, "2h 3m"),
    ],
)
def test_format_silence(seconds: float, shown: str) -> None:
    assert format_silence(seconds) == shown


def test_recover_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    w1, w2, w3, w4 = seed(
        town_dir,
        ("worker-1", AgentState.WORKING, 310),
        ("worker-2", AgentState.WORKING, 190),
        ("worker-3", AgentState.IDLE, 3),
        ("worker-4", AgentState.STOPPED, 9999),
    )
    result = tt("recover")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "🔍 Scanning for orphaned agents...\n"
        "   🔄 Recovered 'worker-1' (Working) - last heartbeat 5m ago\n"
        "   🔄 Recovered 'worker-2' (Working) - last heartbeat 3m ago\n"
        "\n"
        "✨ Recovered 2 orphaned agent(s) (4 total checked)\n"
        "   Run 'tt prune' to remove them from Redis\n"
    )

    async def states(town: Town) -> list[AgentState | None]:
        return [await town.channel.get_agent_state(a.id) for a in (w1, w2, w3, w4)]

    assert in_town(town_dir, states) == [
        AgentState.STOPPED,
        AgentState.STOPPED,
        AgentState.IDLE,
        AgentState.STOPPED,
    ]
    activity = in_town(town_dir, lambda town: town.channel.recent_activity(w1.id))
    assert activity == ["🔄 Recovered by tt recover (orphaned)"]


def test_recover_no_orphans_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed(
        town_dir,
        ("a", AgentState.WORKING, 1),
        ("b", AgentState.IDLE, 2),
        ("c", AgentState.STOPPED, 5000),
    )
    assert tt("recover").out == (
        "🔍 Scanning for orphaned agents...\n\n✨ No orphaned agents found (3 agents checked)\n"
    )


def test_recover_leaves_a_long_running_live_agent_alone(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Working for an hour (last_active_at old), but its runtime heartbeat is fresh."""
    (busy,) = seed(town_dir, ("busy", AgentState.WORKING, 2))

    async def old_activity(town: Town) -> None:
        await town.channel.update_agent(busy.id, last_active_at=utcnow() - timedelta(hours=1))

    in_town(town_dir, old_activity)
    before = snapshot(town_dir)
    assert "No orphaned agents found (1 agents checked)" in tt("recover").out
    assert snapshot(town_dir) == before


def test_recover_threshold_and_json(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed(town_dir, ("a", AgentState.IDLE, 40), ("b", AgentState.IDLE, 5))
    doc = json.loads(tt("recover", "--threshold", "30", "--json").out)
    assert doc["checked"] == 2
    assert [a["name"] for a in doc["recovered"]] == ["a"]
    assert doc["recovered"][0]["state"] == "idle"  # the state it was recovered from
    assert doc["requeued_messages"] == 0


# --- tt reclaim (inbox mode) -----------------------------------------------------------------


def test_reclaim_preview_matches_the_book_and_changes_nothing(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (w1,) = seed(town_dir, ("worker-1", AgentState.STOPPED, 500))
    send(
        town_dir,
        w1,
        assign(BOOK_IDS[0]),
        text("Fix authentication bug in login endpoint"),
        text("Update database schema"),
    )
    before = snapshot(town_dir)
    result = tt("reclaim")
    assert result.out == (
        "🔄 Reclaiming orphaned tasks...\n"
        "   worker-1 (Stopped): 3 message(s)\n"
        f"      task: {BOOK_IDS[0]}\n"
        "      task: Fix authentication bug in login endpoint\n"
        "      task: Update database schema\n"
        "\n"
        "📋 Found 3 orphaned task(s)\n"
        "   Use --to-backlog or --to <agent> to reclaim them\n"
    )
    assert snapshot(town_dir) == before
    doc = json.loads(tt("reclaim", "--json").out)
    assert (doc["action"], doc["tasks"], doc["moved"]) == ("preview", 3, 0)
    assert snapshot(town_dir) == before
    assert tt("reclaim").out == result.out  # a second preview sees the same work


def test_reclaim_to_backlog_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (w1,) = seed(town_dir, ("worker-1", AgentState.STOPPED, 500))
    send(town_dir, w1, *(assign(t) for t in BOOK_IDS))
    result = tt("reclaim", "--to-backlog")
    assert result.out == (
        "🔄 Reclaiming orphaned tasks...\n"
        "   worker-1 (Stopped): 3 message(s)\n"
        f"      → backlog: {BOOK_IDS[0]}\n"
        f"      → backlog: {BOOK_IDS[1]}\n"
        f"      → backlog: {BOOK_IDS[2]}\n"
        "\n"
        "✅ Moved 3 task(s) to backlog\n"
    )
    backlog = in_town(town_dir, lambda town: town.channel.backlog_list())
    assert [str(t) for t in backlog] == list(BOOK_IDS)
    assert in_town(town_dir, lambda town: town.channel.inbox_len(w1.id)) == 0
    assert tt("reclaim").out == (
        "🔄 Reclaiming orphaned tasks...\n\n📋 No tasks found in dead agent inboxes\n"
    )


def test_reclaim_to_agent_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    w1, w2 = seed(town_dir, ("worker-1", AgentState.STOPPED, 500), ("worker-2", AgentState.IDLE, 1))
    send(
        town_dir,
        w1,
        assign(BOOK_IDS[0]),
        text("Fix authentication bug in login endpoint"),
        text("Update database schema"),
    )
    result = tt("reclaim", "--to", "worker-2")
    assert result.out == (
        "🔄 Reclaiming orphaned tasks...\n"
        "   worker-1 (Stopped): 3 message(s)\n"
        f"      → worker-2: {BOOK_IDS[0]}\n"
        "      → worker-2: Fix authentication bug in login endpoint\n"
        "      → worker-2: Update database schema\n"
        "\n"
        "✅ Moved 3 task(s) to 'worker-2'\n"
    )
    assert in_town(town_dir, lambda town: town.channel.inbox_len(w2.id)) == 3


def test_reclaim_from_one_agent(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    w1, w9 = seed(
        town_dir, ("worker-1", AgentState.STOPPED, 500), ("worker-9", AgentState.ERROR, 500)
    )
    send(town_dir, w1, assign(BOOK_IDS[0]))
    send(town_dir, w9, assign(BOOK_IDS[1]))
    result = tt("reclaim", "--from", "worker-1", "--to-backlog")
    assert "worker-9" not in result.out
    assert result.lines[-1] == "✅ Moved 1 task(s) to backlog"
    assert in_town(town_dir, lambda town: town.channel.inbox_len(w9.id)) == 1


def test_reclaim_truncates_long_descriptions(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (w1,) = seed(town_dir, ("worker-1", AgentState.STOPPED, 500))
    send(town_dir, w1, text("x" * 80 + "\nsecond line"))
    assert f"      task: {'x' * 57}..." in tt("reclaim").lines


def test_reclaim_without_dead_agents(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed(town_dir, ("alive", AgentState.IDLE, 1))
    assert tt("reclaim").out == "✨ No dead agents found with tasks to reclaim\n"


# --- tt reclaim --orphan-tasks ------------------------------------------------------------------


def seed_orphans(town_dir: Path) -> tuple[Agent, Task, Task]:
    (dead,) = seed(town_dir, ("dead", AgentState.STOPPED, 500))

    async def body(town: Town) -> tuple[Task, Task]:
        now = utcnow()
        held = Task.new("held", now).assigned(dead.id, now)
        ghost = Task.new("ghost", now + timedelta(seconds=1)).assigned(AgentId.new(), now)
        await town.channel.set_tasks([held, ghost])
        return held, ghost

    held, ghost = in_town(town_dir, body)
    return dead, held, ghost


def test_orphan_tasks_listing_and_requeue(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    dead, held, ghost = seed_orphans(town_dir)
    before = snapshot(town_dir)
    listing = tt("reclaim", "--orphan-tasks")
    assert listing.out == (
        "🔎 Found 2 orphan task(s):\n"
        f"   task {held.id} (state=Assigned) → {dead.id} [assignee terminal]\n"
        f"   task {ghost.id} (state=Assigned) → {ghost.assigned_to} [assignee missing]\n"
        "\n"
        "   Use --to-backlog, --to <agent>, --cancel, or --delete to act on them\n"
    )
    assert snapshot(town_dir) == before
    assert tt("reclaim", "--orphan-tasks", "--to-backlog").lines[-1] == (
        "✅ Requeued 2 task(s) to backlog"
    )
    backlog = in_town(town_dir, lambda town: town.channel.backlog_list())
    assert backlog == [held.id, ghost.id]
    assert tt("reclaim", "--orphan-tasks").out == "✨ No orphan tasks found\n"


@pytest.mark.parametrize(
    ("flag", "trailer", "state"),
    [
        ("--cancel", "✅ Cancelled 2 task(s)", TaskState.CANCELLED),
        ("--delete", "✅ Deleted 2 task(s)", None),
    ],
)
def test_orphan_tasks_cancel_delete(
    tt: Any, town_dir: Path, flag: str, trailer: str, state: TaskState | None
) -> None:
    _, held, _ = seed_orphans(town_dir)
    assert tt("reclaim", "--orphan-tasks", flag).lines[-1] == trailer
    rec = in_town(town_dir, lambda town: town.channel.get_task(held.id))
    assert (rec.state if rec else None) is state


def test_orphan_tasks_to_agent(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed_orphans(town_dir)
    (fresh,) = seed(town_dir, ("fresh", AgentState.IDLE, 1))
    doc = json.loads(tt("reclaim", "--orphan-tasks", "--to", "fresh", "--json").out)
    assert (doc["action"], len(doc["done"])) == ("assign", 2)
    assert in_town(town_dir, lambda town: town.channel.inbox_len(fresh.id)) == 2


# --- bad input ------------------------------------------------------------------------------

BAD_INPUT = [
    (["reclaim", "--to", "nobody"], 3, "Agent not found: nobody"),
    (["reclaim", "--from", "nobody"], 3, "Agent not found: nobody"),
    (["reclaim", "--from", "alive"], 7, "not in a terminal state"),
    (["reclaim", "--to", "worker-1"], 7, "needs a live agent"),
    (["reclaim", "--to-backlog", "--to", "alive"], 2, "cannot be used together"),
    (["reclaim", "--cancel"], 2, "need --orphan-tasks"),
    (["reclaim", "--orphan-tasks", "--cancel", "--delete"], 2, "choose one"),
    (["reclaim", "--orphan-tasks", "--cancel", "--to-backlog"], 2, "choose one"),
    (["reclaim", "--orphan-tasks", "--to", "nobody"], 3, "Agent not found"),
    (["reclaim", "--orphan-tasks", "--from", "nobody"], 3, "Agent not found"),
    (["reclaim", "--bogus"], 2, "--bogus"),
    (["recover", "--threshold", "0"], 6, "threshold"),
    (["recover", "--threshold", "-5"], 6, "threshold"),
    (["recover", "--threshold", "soon"], 2, "--threshold"),
    (["recover", "extra"], 2, "extra"),
]


@pytest.mark.parametrize(
    ("args", "code", "text_"), BAD_INPUT, ids=[" ".join(a) for a, _, _ in BAD_INPUT]
)
def test_bad_input(tt, town_dir: Path, args: list[str], code: int, text_: str) -> None:  # type: ignore[no-untyped-def]
    (w1, _) = seed(
        town_dir, ("worker-1", AgentState.STOPPED, 500), ("alive", AgentState.WORKING, 500)
    )
    send(town_dir, w1, assign(str(TaskId.new())), text("some work"))
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith("Error: ")
    assert text_ in result.err
    assert "Traceback" not in result.out + result.err
    assert snapshot(town_dir) == before


@pytest.mark.parametrize("args", [["recover"], ["reclaim"], ["reclaim", "--orphan-tasks"]])
def test_no_town(tt_nowhere, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = tt_nowhere(*args)
    assert result.code == 4
    assert result.err.count("\n") == 1
