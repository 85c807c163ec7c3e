"""Reclaiming work from dead agents: inbox mode and orphan tasks (pure parts and Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tinytown.codec import message_to_json
from tinytown.config import new_town_config, save_town_config
from tinytown.errors import AgentNotFoundError, InvalidInputError, InvalidStateError
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Message,
    MessageType,
    Priority,
    Task,
    TaskState,
)
from tinytown.services.orphan_tasks import (
    OrphanAction,
    OrphanReason,
    act_on_orphan_tasks,
    find_orphan_tasks,
    scan_orphan_tasks,
)
from tinytown.services.reclaim import (
    ItemKind,
    classify_item,
    reclaim,
    reclaim_to_agent,
    reclaim_to_backlog,
    scan_dead_inboxes,
    select_dead,
)
from tinytown.town import Town, utcnow

NOW = datetime(2026, 4, 20, 18, 0, 0, tzinfo=UTC)


def msg(kind: object, to: AgentId = SUPERVISOR, **kw: object) -> Message:
    return Message(from_=SUPERVISOR, to=to, kind=kind, **kw)  # type: ignore[arg-type]


# --- pure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (MessageType.TaskAssign(task_id="550e8400-e29b-41d4-a716-446655440000"), ItemKind.TASK_ID),
        (MessageType.TaskAssign(task_id="not-a-uuid"), ItemKind.SKIP),
        (MessageType.Task(description="Fix the bug"), ItemKind.TASK_TEXT),
        (MessageType.Query(question="why?"), ItemKind.OTHER),
        (MessageType.Informational(summary="fyi"), ItemKind.OTHER),
        (MessageType.Shutdown(), ItemKind.OTHER),
    ],
)
def test_classify_item(kind: object, expected: ItemKind) -> None:
    m = msg(kind)
    item = classify_item(message_to_json(m), m, urgent=False)
    assert item.kind is expected
    assert item.kind.is_task is (expected in (ItemKind.TASK_ID, ItemKind.TASK_TEXT))
    if expected is ItemKind.TASK_ID:
        assert str(item.task_id) == "550e8400-e29b-41d4-a716-446655440000"
    if expected is ItemKind.TASK_TEXT:
        assert item.description == "Fix the bug"


def a(name: str, state: AgentState) -> Agent:
    rec = Agent.new(name, "claude", NOW)
    rec.state = state
    return rec


def test_select_dead() -> None:
    agents = [
        a("w1", AgentState.STOPPED),
        a("w2", AgentState.WORKING),
        a("w3", AgentState.COLD),
        a("w4", AgentState.ERROR),
    ]
    assert [x.name for x in select_dead(agents, None)] == ["w1", "w3", "w4"]
    assert [x.name for x in select_dead(agents, "w4")] == ["w4"]
    with pytest.raises(AgentNotFoundError, match="nobody"):
        select_dead(agents, "nobody")
    with pytest.raises(InvalidStateError, match="not in a terminal state"):
        select_dead(agents, "w2")
    with pytest.raises(AgentNotFoundError):
        select_dead(agents, "W1")  # --from is an exact, case-sensitive name


def task(state: TaskState, to: AgentId | None) -> Task:
    t = Task.new("work", NOW)
    return Task(
        id=t.id, description="work", created_at=NOW, updated_at=NOW, state=state, assigned_to=to
    )


def test_find_orphan_tasks_table() -> None:
    dead, live = a("dead", AgentState.STOPPED), a("live", AgentState.IDLE)
    ghost = AgentId.new()
    tasks = {
        "dead": task(TaskState.RUNNING, dead.id),
        "ghost": task(TaskState.ASSIGNED, ghost),
        "live": task(TaskState.ASSIGNED, live.id),
        "done": task(TaskState.COMPLETED, dead.id),
        "free": task(TaskState.PENDING, None),
        "super": task(TaskState.ASSIGNED, SUPERVISOR),
    }
    found = find_orphan_tasks(tasks.values(), [dead, live])
    assert [(o.task.id, o.reason) for o in found] == [
        (tasks["dead"].id, OrphanReason.TERMINAL),
        (tasks["ghost"].id, OrphanReason.MISSING),
    ]
    assert found[0].assignee is dead
    assert found[1].assignee is None


# --- with Redis ---------------------------------------------------------------------------


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str) -> AsyncIterator[Town]:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root, env={"REDIS_URL": redis_url}) as connected:
        yield connected


async def add(town: Town, name: str, state: AgentState, order: int = 0) -> Agent:
    rec = Agent.new(name, "claude", utcnow() - timedelta(hours=1) + timedelta(seconds=order))
    rec.state = state
    await town.channel.set_agent(rec)
    return rec


async def snapshot(town: Town) -> dict[str, bytes]:
    keys = sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern))
    pipe = town.redis.pipeline()
    for key in keys:
        pipe.cmd("DUMP", key)
    return dict(zip(keys, await pipe.execute(), strict=True)) if keys else {}


async def seeded(town: Town) -> tuple[Agent, Task, list[Message]]:
    """A dead worker holding an assigned task, a free-text task, an info and an urgent task."""
    dead = await add(town, "worker-1", AgentState.STOPPED, 1)
    assigned = Task.new("Build the API", utcnow()).assigned(dead.id, utcnow())
    await town.channel.set_task(assigned)
    messages = [
        msg(MessageType.TaskAssign(task_id=str(assigned.id)), dead.id),
        msg(MessageType.Task(description="Fix authentication bug in login endpoint"), dead.id),
        msg(MessageType.Informational(summary="fyi"), dead.id),
    ]
    await town.channel.send_many(messages)
    urgent = msg(MessageType.Task(description="Hotfix"), dead.id)
    await town.channel.send_urgent(urgent)
    return dead, assigned, [urgent, *messages]


async def test_preview_changes_nothing(town: Town) -> None:
    await seeded(town)
    await add(town, "live", AgentState.WORKING, 2)
    before = await snapshot(town)
    boxes = await scan_dead_inboxes(town)
    assert await snapshot(town) == before
    [box] = boxes
    assert box.agent.name == "worker-1"
    assert box.message_count == 4
    assert [i.kind for i in box.items] == [
        ItemKind.TASK_TEXT,
        ItemKind.TASK_ID,
        ItemKind.TASK_TEXT,
        ItemKind.OTHER,
    ]
    assert [i.urgent for i in box.items] == [True, False, False, False]
    assert len(box.tasks) == 3


async def test_reclaim_to_backlog(town: Town) -> None:
    dead, assigned, [_, _, _, info] = await seeded(town)
    [moves] = await reclaim_to_backlog(town, await scan_dead_inboxes(town))
    assert all(m.done for m in moves)
    assert len(moves) == 3
    backlog = await town.channel.backlog_list()
    assert backlog == [m.task_id for m in moves]
    assert assigned.id in backlog
    # The assigned task is back to Pending and unassigned; free text became new tasks.
    record = await town.channel.require_task(assigned.id)
    assert (record.state, record.assigned_to) == (TaskState.PENDING, None)
    created = await town.channel.get_tasks([t for t in backlog if t != assigned.id])
    assert sorted(t.description for t in created.values()) == [
        "Fix authentication bug in login endpoint",
        "Hotfix",
    ]
    assert all(t.state is TaskState.PENDING for t in created.values())
    # Only the informational message stays with the dead agent.
    assert [m.id for m in await town.channel.peek(dead.id)] == [info.id]
    assert await town.channel.peek(dead.id, urgent=True) == []


async def test_reclaim_to_backlog_does_not_duplicate_backlog_entries(town: Town) -> None:
    _, assigned, _ = await seeded(town)
    await town.channel.backlog_push(assigned.id)
    await reclaim_to_backlog(town, await scan_dead_inboxes(town))
    backlog = await town.channel.backlog_list()
    assert backlog.count(assigned.id) == 1


async def test_reclaim_to_agent_moves_every_message(town: Town) -> None:
    dead, assigned, [urgent, assign_msg, text_msg, info] = await seeded(town)
    extra_urgent = msg(MessageType.Query(question="now?"), dead.id)
    await town.channel.send_urgent(extra_urgent)  # urgent queue is now [extra, urgent]
    target = await add(town, "worker-2", AgentState.IDLE, 2)
    boxes = await scan_dead_inboxes(town)
    [moves] = await reclaim_to_agent(town, boxes, target.id)
    assert [(m.done, m.task_id) for m in moves] == [(True, None), (True, assigned.id), (True, None)]
    inbox = await town.channel.peek(target.id)
    assert [m.id for m in inbox] == [assign_msg.id, text_msg.id, info.id]
    assert all(m.to == target.id for m in inbox)
    urgent_q = await town.channel.peek(target.id, urgent=True)
    assert [m.id for m in urgent_q] == [extra_urgent.id, urgent.id]
    assert await town.channel.peek(dead.id) == []
    record = await town.channel.require_task(assigned.id)
    assert (record.state, record.assigned_to) == (TaskState.ASSIGNED, target.id)


async def test_reclaim_to_agent_keeps_high_priority_at_the_head(town: Town) -> None:
    dead = await add(town, "worker-1", AgentState.STOPPED, 1)
    target = await add(town, "worker-2", AgentState.IDLE, 2)
    waiting = msg(MessageType.Task(description="already queued"), target.id)
    await town.channel.send(waiting)
    high = msg(MessageType.Task(description="important"), dead.id, priority=Priority.HIGH)
    await town.channel.send(high)
    await reclaim_to_agent(town, await scan_dead_inboxes(town), target.id)
    assert [m.id for m in await town.channel.peek(target.id)] == [high.id, waiting.id]


async def test_reclaim_to_itself_is_refused(town: Town) -> None:
    dead, _, _ = await seeded(town)
    before = await snapshot(town)
    with pytest.raises(InvalidInputError):
        await reclaim_to_agent(town, await scan_dead_inboxes(town), dead.id)
    assert await snapshot(town) == before


async def test_a_message_gone_before_the_move_is_skipped_without_residue(town: Town) -> None:
    dead, _, [urgent, *_rest] = await seeded(town)
    boxes = await scan_dead_inboxes(town)
    await town.redis.execute("DEL", town.channel.keys.urgent(dead.id))  # e.g. a restart took it
    tasks_before = {t.id for t in await town.channel.list_tasks()}
    [moves] = await reclaim_to_backlog(town, boxes)
    assert [m.done for m in moves] == [False, True, True]
    assert moves[0].item.message.id == urgent.id
    created = {t.id for t in await town.channel.list_tasks()} - tasks_before
    assert len(created) == 1  # only the free-text task that was really moved
    assert set(await town.channel.backlog_list()) >= created


async def test_reclaim_counts_only_what_it_moved(town: Town) -> None:
    """REST and MCP share one count: a stale message of an ended task is dropped, not counted.

    (The MCP tool counted it: two surfaces answered the same request differently.)
    """
    _, assigned, _ = await seeded(town)
    await town.channel.set_task(assigned.completed("done meanwhile", utcnow()))
    assert await reclaim(town, to_backlog=False, to=None, from_name=None) == (3, "Listed")
    assert await reclaim(town, to_backlog=True, to=None, from_name=None) == (2, "Backlog")
    assert assigned.id not in await town.channel.backlog_list()


async def test_reclaim_to_a_dead_agent_is_refused_and_changes_nothing(town: Town) -> None:
    """REST and MCP once moved work to a stopped agent, stranding it; the CLI refused."""
    await seeded(town)
    await add(town, "gone", AgentState.STOPPED, 2)
    before = await snapshot(town)
    with pytest.raises(InvalidStateError, match="needs a live agent"):
        await reclaim(town, to_backlog=False, to="gone", from_name="worker-1")
    with pytest.raises(AgentNotFoundError):  # ``to`` is resolved first, even with to_backlog
        await reclaim(town, to_backlog=True, to="ghost", from_name=None)
    assert await snapshot(town) == before
    live = await add(town, "heir", AgentState.IDLE, 3)
    assert await reclaim(town, to_backlog=False, to="heir", from_name="worker-1") == (
        3, 'Agent("heir")')
    assert len(await town.channel.peek(live.id)) + len(
        await town.channel.peek(live.id, urgent=True)) == 4


async def test_from_filters_dead_agents(town: Town) -> None:
    await seeded(town)
    other = await add(town, "worker-9", AgentState.ERROR, 3)
    await town.channel.send(msg(MessageType.Task(description="x"), other.id))
    assert [b.agent.name for b in await scan_dead_inboxes(town)] == ["worker-1", "worker-9"]
    assert [b.agent.name for b in await scan_dead_inboxes(town, "worker-9")] == ["worker-9"]


# --- orphan tasks -------------------------------------------------------------------------


async def orphan_setup(town: Town) -> tuple[Task, Task, Task]:
    dead = await add(town, "dead", AgentState.STOPPED, 1)
    live = await add(town, "live", AgentState.IDLE, 2)
    now = utcnow()
    t_dead = Task.new("held by dead", now).assigned(dead.id, now).started(now)
    t_ghost = Task.new("held by ghost", now + timedelta(seconds=1)).assigned(AgentId.new(), now)
    t_live = Task.new("held by live", now + timedelta(seconds=2)).assigned(live.id, now)
    await town.channel.set_tasks([t_dead, t_ghost, t_live])
    return t_dead, t_ghost, t_live


async def test_scan_orphan_tasks_reads_only(town: Town) -> None:
    t_dead, t_ghost, _ = await orphan_setup(town)
    before = await snapshot(town)
    orphans = await scan_orphan_tasks(town)
    assert await snapshot(town) == before
    assert [(o.task.id, o.reason) for o in orphans] == [
        (t_dead.id, OrphanReason.TERMINAL),
        (t_ghost.id, OrphanReason.MISSING),
    ]
    assert [o.task.id for o in await scan_orphan_tasks(town, "dead")] == [t_dead.id]
    with pytest.raises(AgentNotFoundError):
        await scan_orphan_tasks(town, "nobody")


async def test_orphans_to_backlog(town: Town) -> None:
    t_dead, t_ghost, _ = await orphan_setup(town)
    await town.channel.backlog_push(t_ghost.id)
    done = await act_on_orphan_tasks(town, await scan_orphan_tasks(town), OrphanAction.BACKLOG)
    assert len(done) == 2
    assert await town.channel.backlog_list() == [t_ghost.id, t_dead.id]  # no duplicate
    for tid in (t_dead.id, t_ghost.id):
        rec = await town.channel.require_task(tid)
        assert (rec.state, rec.assigned_to, rec.started_at) == (TaskState.PENDING, None, None)


async def test_orphans_cancel_and_delete(town: Town) -> None:
    t_dead, t_ghost, t_live = await orphan_setup(town)
    orphans = await scan_orphan_tasks(town)
    await act_on_orphan_tasks(town, orphans[:1], OrphanAction.CANCEL)
    rec = await town.channel.require_task(t_dead.id)
    assert rec.state is TaskState.CANCELLED
    assert rec.result == "Cancelled: assignee is in a terminal state"
    await act_on_orphan_tasks(town, orphans[1:], OrphanAction.CANCEL)
    ghost = await town.channel.require_task(t_ghost.id)
    assert ghost.result == "Cancelled: assignee no longer exists"
    t2 = Task.new("again", utcnow()).assigned(AgentId.new(), utcnow())
    await town.channel.set_task(t2)
    await act_on_orphan_tasks(town, await scan_orphan_tasks(town), OrphanAction.DELETE)
    assert await town.channel.get_task(t2.id) is None
    assert await town.channel.get_task(t_live.id) is not None


async def test_orphans_assign_to_agent(town: Town) -> None:
    t_dead, t_ghost, _ = await orphan_setup(town)
    target = await add(town, "fresh", AgentState.IDLE, 9)
    done = await act_on_orphan_tasks(
        town, await scan_orphan_tasks(town), OrphanAction.ASSIGN, target=target.id
    )
    assert {o.task.id for o in done} == {t_dead.id, t_ghost.id}
    inbox = await town.channel.peek(target.id)
    assert sorted(m.kind.task_id for m in inbox) == sorted(  # type: ignore[union-attr]
        [str(t_dead.id), str(t_ghost.id)]
    )
    rec = await town.channel.require_task(t_dead.id)
    assert (rec.state, rec.assigned_to) == (TaskState.ASSIGNED, target.id)
    with pytest.raises(InvalidInputError):
        await act_on_orphan_tasks(town, done, OrphanAction.ASSIGN)


async def test_orphan_completed_meanwhile_is_left_alone(town: Town) -> None:
    t_dead, _, _ = await orphan_setup(town)
    orphans = await scan_orphan_tasks(town)
    await town.channel.set_task(t_dead.completed("done after all", utcnow()))
    done = await act_on_orphan_tasks(town, orphans, OrphanAction.CANCEL)
    assert t_dead.id not in {o.task.id for o in done}
    rec = await town.channel.require_task(t_dead.id)
    assert (rec.state, rec.result) == (TaskState.COMPLETED, "done after all")


async def test_no_orphans_no_writes(town: Town) -> None:
    before = await snapshot(town)
    assert await act_on_orphan_tasks(town, [], OrphanAction.DELETE) == []
    assert await snapshot(town) == before
