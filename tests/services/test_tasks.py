"""tinytown.services.tasks: assign, complete, cancel, show, list, current (real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from tinytown.codec import message_from_json
from tinytown.errors import (
    AgentNotFoundError,
    InvalidInputError,
    NotFoundError,
    TaskNotFoundError,
)
from tinytown.models import SUPERVISOR, AgentId, EventType, MessageType, Task, TaskId, TaskState
from tinytown.services import backlog, tasks
from tinytown.services.registration import register_agent
from tinytown.town import Town

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected

T0 = datetime(2026, 4, 20, 18, 0, tzinfo=UTC)


def _task(state: TaskState = TaskState.PENDING, assignee: AgentId | None = None) -> Task:
    t = Task.new("x", T0)
    t.state = state
    t.assigned_to = assignee
    return t


# --- pure -------------------------------------------------------------------------------


def test_parse_state_is_case_insensitive_and_names_valid_states() -> None:
    assert tasks.parse_state(" Running ") is TaskState.RUNNING
    with pytest.raises(InvalidInputError) as err:
        tasks.parse_state("bogus")
    assert str(err.value) == (
        "Unknown state filter: bogus. "
        "Valid: pending, assigned, running, completed, failed, cancelled"
    )


def test_pick_current_task_prefers_the_pointer_even_when_its_task_is_gone() -> None:
    live = _task(TaskState.ASSIGNED)
    pointer = TaskId.new()
    assert tasks.pick_current_task(pointer, None, [live]) is None
    pointed = _task(TaskState.RUNNING)
    assert tasks.pick_current_task(pointer, pointed, [live]) is pointed


@pytest.mark.parametrize(
    ("states", "expect_index"),
    [
        ([], None),
        ([TaskState.COMPLETED], None),
        ([TaskState.ASSIGNED], 0),
        ([TaskState.COMPLETED, TaskState.RUNNING], 1),
        ([TaskState.ASSIGNED, TaskState.RUNNING], None),
    ],
)
def test_pick_current_task_without_pointer_needs_exactly_one_live_task(
    states: list[TaskState], expect_index: int | None
) -> None:
    assigned = [_task(s) for s in states]
    got = tasks.pick_current_task(None, None, assigned)
    assert got is (None if expect_index is None else assigned[expect_index])


def test_filter_tasks_by_state_and_assignee() -> None:
    a, b = AgentId.new(), AgentId.new()
    ts = [_task(TaskState.RUNNING, a), _task(TaskState.RUNNING, b), _task(TaskState.PENDING)]
    assert tasks.filter_tasks(ts, TaskState.RUNNING) == ts[:2]
    assert tasks.filter_tasks(ts, TaskState.RUNNING, b) == [ts[1]]
    assert tasks.filter_tasks(ts) == ts


# --- assign -------------------------------------------------------------------------------


async def test_assign_stores_task_and_queues_assignment(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    done = await tasks.assign(town, "backend", "Build the API")
    stored = await town.channel.require_task(done.task.id)
    assert stored.state is TaskState.ASSIGNED
    assert stored.assigned_to == handle.id
    (raw,) = await town.channel.raw_queue(handle.id)
    msg = message_from_json(raw)
    assert msg.from_ == SUPERVISOR
    assert msg.kind == MessageType.TaskAssign(task_id=str(done.task.id))
    recent = await town.channel.recent_events(5)
    assert any(
        e.event_type is EventType.TASK_ASSIGNED and e.task_id == str(done.task.id)
        for _, e in recent
    )


async def test_assign_to_conductor_lands_in_supervisor_mailbox(town: Town) -> None:
    done = await tasks.assign(town, "conductor", "Plan the sprint")
    assert done.agent is None
    assert done.agent_id == SUPERVISOR
    assert await town.channel.inbox_len(SUPERVISOR) == 1


@pytest.mark.parametrize(
    ("ref", "desc", "error"),
    [("nobody", "work", AgentNotFoundError), ("backend", "   ", InvalidInputError)],
)
async def test_assign_bad_input_writes_nothing(
    town: Town, ref: str, desc: str, error: type[Exception]
) -> None:
    await register_agent(town, "backend", "claude")
    before = sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern))
    with pytest.raises(error):
        await tasks.assign(town, ref, desc)
    assert sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern)) == before


# --- complete -------------------------------------------------------------------------------


async def test_complete_clears_pointer_and_counts_once(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    done = await tasks.assign(town, "backend", "Fix bug")
    await town.channel.update_agent(handle.id, current_task=done.task.id)
    first = await tasks.complete(town, str(done.task.id), "Fixed")
    assert first.task.state is TaskState.COMPLETED
    assert first.task.result == "Fixed"
    assert first.task.completed_at is not None
    assert first.cleared_current
    assert first.tasks_completed == 1
    assert not first.was_terminal
    agent = await town.channel.require_agent(handle.id)
    assert agent.current_task is None
    assert agent.tasks_completed == 1
    again = await tasks.complete(town, str(done.task.id), "Fixed twice")
    assert again.was_terminal
    assert again.tasks_completed == 1
    assert not again.cleared_current
    stored = await town.channel.require_task(done.task.id)  # the first result and time stay
    assert (stored.result, stored.completed_at) == ("Fixed", first.task.completed_at)
    assert again.task == stored
    current = await tasks.current(town, "backend")
    assert current.task is None


async def test_concurrent_completions_count_exactly_once(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    done = await tasks.assign(town, "backend", "Race")
    async with trio.open_nursery() as nursery:
        for i in range(8):
            nursery.start_soon(tasks.complete, town, str(done.task.id), f"r{i}")
    assert (await town.channel.require_agent(handle.id)).tasks_completed == 1


async def test_complete_leaves_pointer_to_other_task_and_skips_missing_agent(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    one = await tasks.assign(town, "backend", "one")
    two = await tasks.assign(town, "backend", "two")
    await town.channel.update_agent(handle.id, current_task=two.task.id)
    result = await tasks.complete(town, str(one.task.id))
    assert not result.cleared_current
    assert result.task.result == "Completed"
    assert (await town.channel.require_agent(handle.id)).current_task == two.task.id
    await town.channel.remove_agent(handle.id)
    gone = await tasks.complete(town, str(two.task.id))
    assert gone.agent is None
    assert gone.tasks_completed is None
    assert not await town.redis.execute("EXISTS", town.channel.keys.agent(handle.id))


@pytest.mark.parametrize(
    ("task_id", "error"),
    [("not-a-uuid", InvalidInputError), (str(TaskId.new()), TaskNotFoundError)],
)
async def test_complete_bad_ids(town: Town, task_id: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        await tasks.complete(town, task_id)


async def test_cancel_clears_pointer_without_counting(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    done = await tasks.assign(town, "backend", "Obsolete")
    await town.channel.update_agent(handle.id, current_task=done.task.id)
    result = await tasks.cancel(town, str(done.task.id), "not needed")
    assert result.task.state is TaskState.CANCELLED
    assert result.task.result == "not needed"
    assert result.cleared_current
    assert result.tasks_completed == 0
    assert (await town.channel.require_agent(handle.id)).tasks_completed == 0


@pytest.mark.parametrize("finish", [tasks.complete, tasks.cancel])
async def test_finishing_a_backlog_task_takes_it_out_of_the_backlog(
    town: Town, finish: Callable[[Town, str], Awaitable[tasks.Completion]]
) -> None:
    await register_agent(town, "backend", "claude")
    parked = await backlog.add(town, "Parked")
    kept = await backlog.add(town, "Kept")
    await finish(town, str(parked.id))
    assert await town.channel.backlog_list() == [kept.id]
    with pytest.raises(NotFoundError, match="not found in backlog"):
        await backlog.claim(town, str(parked.id), "backend")
    task = await town.channel.require_task(parked.id)
    assert task.state in (TaskState.COMPLETED, TaskState.CANCELLED)
    assert task.assigned_to is None


# --- show / list / current ---------------------------------------------------------------------


async def test_show_and_list_with_filters(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    a = await tasks.assign(town, "backend", "A")
    b = await tasks.assign(town, "backend", "B")
    await tasks.complete(town, str(b.task.id))
    view = await tasks.show(town, str(a.task.id))
    assert view.task.description == "A"
    assert view.assignee is not None
    assert view.assignee.id == handle.id
    listing = await tasks.list_tasks(town)
    assert {t.description for t in listing.tasks} == {"A", "B"}
    assert listing.total == 2
    done = await tasks.list_tasks(town, "COMPLETED")
    assert [t.description for t in done.tasks] == ["B"]
    mine = await tasks.list_tasks(town, assignee=handle.id)
    assert len(mine.tasks) == 2
    with pytest.raises(InvalidInputError):
        await tasks.list_tasks(town, "done")


async def test_list_tasks_round_trips_do_not_grow(town: Town) -> None:
    await register_agent(town, "backend", "claude")
    costs = []
    for n in (1, 40):
        now = datetime.now(UTC)
        await town.channel.set_tasks(Task.new(f"t{i}", now) for i in range(n))
        before = town.redis.round_trips
        await tasks.list_tasks(town)
        costs.append(town.redis.round_trips - before)
    assert costs[0] == costs[1] == 4


async def test_current_resolves_context_from_arguments(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    only = await tasks.assign(town, "backend", "Only one")
    found = await tasks.current(town, None, env_agent_id=str(handle.id))
    assert found.task is not None
    assert found.task.id == only.task.id
    by_name = await tasks.current(town, None, env_agent_id="junk", env_agent_name="backend")
    assert by_name.agent_id == handle.id
    assert by_name.task is not None
    await tasks.assign(town, "backend", "Second")
    assert (await tasks.current(town, "backend")).task is None  # two live tasks, no pointer
    await town.channel.update_agent(handle.id, current_task=only.task.id)
    pointed = await tasks.current(town, "backend")
    assert pointed.task is not None
    assert pointed.task.id == only.task.id
    with pytest.raises(AgentNotFoundError) as err:
        await tasks.current(town, None, env_agent_id=str(AgentId.new()))
    assert "No current agent context found" in str(err.value)


async def test_complete_uses_given_time(town: Town) -> None:
    await register_agent(town, "backend", "claude")
    done = await tasks.assign(town, "backend", "Timed")
    when = datetime.now(UTC) + timedelta(hours=1)
    result = await tasks.complete(town, str(done.task.id), now=when)
    assert result.task.completed_at == when
