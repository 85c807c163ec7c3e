"""tinytown.services.status and .agent_logs: summaries (pure), gathering, round trips at scale."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tinytown.codec import agent_to_hash, message_to_json, task_to_hash
from tinytown.models import Agent, AgentId, Message, MessageType, Task, TaskId, TaskState
from tinytown.services import agent_logs, inbox, messages, status, task_rows, tasks
from tinytown.services.registration import register_agent
from tinytown.services.task_summary import Clock, Summaries
from tinytown.town import Town

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected

T0 = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)


def _task(state: TaskState, who: AgentId | None, minutes: int = 0) -> Task:
    t = Task.new(f"{state.value} {minutes}", T0 + timedelta(minutes=minutes))
    t.state, t.assigned_to = state, who
    t.updated_at = T0 + timedelta(minutes=minutes)
    if state is TaskState.RUNNING:
        t.started_at = t.updated_at
    return t


def _row(task: Task) -> task_rows.Row:
    """The task as ``tt status`` reads it: HMGET of the summary fields."""
    fields, _ = task_to_hash(task)
    return [fields.get(name) for name in task_rows.SUMMARY_FIELDS]


def _ids(rows: list[task_rows.Row]) -> list[str | None]:
    return [r[task_rows.ID] for r in rows]


# --- pure summaries ----------------------------------------------------------------------------


def test_counts_and_derived_totals() -> None:
    a = AgentId.new()
    rows = [_row(_task(s, a)) for s in TaskState] + [_row(_task(TaskState.PENDING, None))]
    rows[0][task_rows.STATE] = "in_flight"  # an old name of running
    rows.append(_row(_task(TaskState.PENDING, None)))
    rows[-1][task_rows.STATE] = None  # no state reads as pending
    counts = Summaries(rows).counts()
    grouped = Summaries(rows)
    grouped.groups([], 5)  # then counted from the groups' buckets
    assert grouped.counts() == counts
    assert (counts.pending, counts.running) == (2, 2)
    assert counts.in_flight == 3
    assert counts.done == 3
    assert counts.total == len(rows) == 8
    assert counts.get(TaskState.CANCELLED) == 1


def test_groups_orders_live_work_first_and_unassigned_last() -> None:
    alpha = Agent.new("alpha", "claude", T0)
    beta = Agent.new("beta", "claude", T0)
    gone = AgentId.new()
    ts = [
        _task(TaskState.COMPLETED, alpha.id, 1),
        _task(TaskState.ASSIGNED, alpha.id, 2),
        _task(TaskState.RUNNING, alpha.id, 3),
        _task(TaskState.PENDING, None, 4),
        _task(TaskState.FAILED, gone, 5),
        *[_task(TaskState.COMPLETED, alpha.id, 10 + i) for i in range(5)],
    ]
    groups = Summaries([_row(t) for t in ts]).groups([beta, alpha], 5)
    assert [g.agent_id for g in groups] == [alpha.id, gone, None]
    first = groups[0]
    assert (first.active, first.done, first.total) == (2, 6, 8)
    assert _ids(first.shown) == [str(t.id) for t in (ts[2], ts[1], ts[9], ts[8], ts[7])]
    assert groups[1].agent is None
    assert groups[2].total == 1


def test_groups_breaks_ties_by_creation_then_key_order() -> None:
    a = AgentId.new()
    ts = [_task(TaskState.COMPLETED, a, 0) for _ in range(4)]
    for t, minutes in zip(ts, (3, 1, 2, 1), strict=True):
        t.created_at = T0 - timedelta(minutes=minutes)
    rows = [_row(t) for t in ts]
    (group,) = Summaries(rows).groups([], 3)
    assert _ids(group.shown) == [str(ts[0].id), str(ts[2].id), str(ts[1].id)]
    # several texts of one state and of one owner are merged in key order
    rows[1][task_rows.STATE] = "cancelled"
    rows[3][task_rows.OWNER] = str(a).upper()
    rows[0][task_rows.STATE] = "in_flight"
    (group,) = Summaries(rows).groups([], 4)
    assert _ids(group.shown) == [str(t.id) for t in (ts[0], ts[2], ts[3], ts[1])]
    assert (group.active, group.done) == (1, 3)


def test_groups_read_creation_times_when_update_times_tie_at_the_cut() -> None:
    a = AgentId.new()
    ts = [_task(TaskState.COMPLETED, a, m) for m in (5, 3, 3, 1)]
    ts[1].created_at = T0 + timedelta(minutes=4)  # created after ts[2]: both updated at 3
    rows = [_row(t) for t in ts]
    (group,) = Summaries(rows).groups([], 2)
    assert _ids(group.shown) == [str(ts[0].id), str(ts[2].id)]
    (group,) = Summaries(rows).groups([], 1)  # no tie decides: creation times not needed
    assert _ids(group.shown) == [str(ts[0].id)]


def test_running_sorted_by_start_then_creation() -> None:
    a, b = AgentId.new(), AgentId.new()
    late, early = _task(TaskState.RUNNING, a, 9), _task(TaskState.RUNNING, a, 1)
    tie = _task(TaskState.RUNNING, a, 1)
    tie.created_at = early.created_at - timedelta(seconds=1)
    unstarted = _task(TaskState.RUNNING, b, 5)
    unstarted.started_at = None  # ordered by its last update
    rows = [_row(t) for t in (late, early, tie, _task(TaskState.ASSIGNED, a), unstarted)]
    rows.append(_row(_task(TaskState.RUNNING, None)))  # nobody's
    bad = _row(_task(TaskState.RUNNING, b, 0))
    bad[task_rows.STARTED] = "not a time"  # unreadable: its last update
    rows.append(bad)
    assert {k: [rows[i][task_rows.ID] for i in v]
            for k, v in Summaries(rows).running().items()} == {
        a: [str(tie.id), str(early.id), str(late.id)],
        b: [bad[task_rows.ID], str(unstarted.id)],
    }
    grouped = Summaries(rows)
    grouped.groups([], 5)  # running tasks then come from the groups' buckets
    assert grouped.running() == Summaries(rows).running()


def test_summary_timestamps_read_as_whole_records_read_them() -> None:
    clock = Clock()
    texts = ["2026-04-20T12:00:00.123456+00:00", "2026-04-20T12:00:00Z",
             "2026-04-20T14:00:00.5+02:00", "2026-04-20T12:00:00.123456789+00:00",
             "2026-99-20T12:00:00.123456+00:00", "garbage", None]
    assert clock.maybe(texts) == [
        T0.replace(microsecond=123456), T0, T0.replace(microsecond=500000),
        T0.replace(microsecond=123456), None, None, None,
    ]
    assert clock.sure(texts)[4:] == [clock.now] * 3
    fresh = Clock()  # one at a time (whole records), before and after the columns
    assert [fresh.when(t) for t in texts] == clock.maybe(texts) == [clock.when(t) for t in texts]


def test_all_canonical_ids_in_bulk_agrees_with_one_by_one() -> None:
    good = [str(TaskId.new()) for _ in range(5)]
    assert task_rows._all_canonical(good)
    assert task_rows._all_canonical([])
    bad_ones = [good[0].upper(), good[0][:-1] + "g", good[0] + "\n", "{" + good[0][1:],
                good[0][:8] + "x" + good[0][9:], good[0][:-1], good[0].replace("-", "")[:36],
                good[0][:-1] + "é", None]
    for bad in bad_ones:
        assert not task_rows._all_canonical([*good, bad]), bad


# --- log cleaning (pure) ------------------------------------------------------------------------


def test_clean_line_rules() -> None:
    c = agent_logs.clean_line
    assert c("\x1b[32m✅ Round 3 complete\x1b[0m") == "✅ Round 3 complete"
    assert c("   📭 Inbox empty, waiting...") is None
    assert c("📍 Round 4/10") is None
    assert c("2026-04-20T18:22:15.123456Z  INFO tt: 🤖 Running claude...") == "🤖 Running claude..."
    assert c("2026-04-20T18:22:15.123456Z  WARN tt: careful") == "⚠️ careful"
    assert c("2026-04-20T18:22:15.123456Z ERROR tt: boom") == "❌ boom"
    assert c("2026-04-20T18:22:15.123456Z  INFO tt: ") is None
    assert c("2026-04-20T18:22:15.123456Z  something plain") == "something plain"
    assert c("   📬 batched: 1 actionable, 0 informational, 0 confirmations") is None
    assert c("Redis version 8.2 detected") is None
    assert c("tt:") is None
    assert c("") is None
    assert c("plain words") == "plain words"


def test_summarize_log_collapses_rounds_and_repeats() -> None:
    lines = [
        "🔄 Agent 'backend' starting loop (max 10 rounds)",
        "   ✅ Round 1 complete",
        "   ✅ Round 2 complete",
        "   ✅ Round 3 complete",
        "⚠️ CLI exited with error",
        "⚠️ CLI exited with error",
        "   ✅ Round 5 complete",
    ]
    assert agent_logs.summarize_log(lines) == [
        "🔄 Agent 'backend' starting loop (max 10 rounds)",
        "✅ Rounds 1-3 completed (3 rounds)",
        "⚠️ CLI exited with error",
        "✅ Round 5 completed",
    ]
    assert len(agent_logs.summarize_log([f"line {i}" for i in range(40)])) == 15


def test_round_tail_cuts_long_lines() -> None:
    tail = agent_logs.round_tail(["", "x" * 100, "\x1b[1mshort\x1b[0m", "  "])
    assert tail == ["x" * 77 + "...", "short"]


# --- gathering ------------------------------------------------------------------------------------


async def test_status_report(town: Town) -> None:
    backend = await register_agent(town, "backend", "claude")
    await register_agent(town, "reviewer", "claude")
    done = await tasks.assign(town, "backend", "Implement login")
    await town.channel.set_task(
        (await town.channel.require_task(done.task.id)).started(datetime.now(UTC))
    )
    await messages.send(town, "reviewer", "CI is green", info=True)
    await town.channel.log_activity(backend.id, "Round 1: ✅ completed")
    logs = town.tt_dir / "logs"
    (logs / f"{backend.id}.log").write_text("🔄 starting\n   ✅ Round 1 complete\n")
    (logs / f"{backend.id}_round_1.log").write_text("did things\n")
    (logs / f"{backend.id}_round_12.log").write_text("round twelve\n\n")
    (logs / "backend.log").write_text("a name is never a file name\n")
    report = await status.status(town, deep=True, tasks=True)
    assert report.town == town.name
    assert report.redis == town.target.redacted
    rows = {r.agent.name: r for r in report.agents}
    assert rows["backend"].length == 1
    assert rows["backend"].counts.needs_action == 1
    assert [t.id for t in rows["backend"].running] == [done.task.id]
    assert rows["backend"].activity == ["Round 1: ✅ completed"]
    assert rows["reviewer"].counts.informational == 1
    assert report.tasks.running == 1
    assert report.backlog == 0
    assert [g.agent_id for g in report.groups] == [backend.id]
    # summaries read a few fields of every task; the tasks shown are whole records
    assert rows["backend"].running[0].description == "Implement login"
    assert report.groups[0].tasks[0].description == "Implement login"
    assert report.groups[0].tasks[0].started_at is not None
    (log,) = report.logs
    assert log.lines == ["🔄 starting", "✅ Round 1 completed"]
    assert log.latest_round == 12
    assert log.round_lines == ["round twelve"]


async def test_status_reads_summaries_and_skips_corrupt_task_records(town: Town) -> None:
    await register_agent(town, "backend", "claude")
    now = datetime.now(UTC)
    first = await tasks.assign(town, "backend", "First job")
    second = await tasks.assign(town, "backend", "Second job")
    for done, minute in ((first, 1), (second, 2)):
        record = await town.channel.require_task(done.task.id)
        await town.channel.set_task(record.started(now + timedelta(minutes=minute)))
    keys = town.channel.keys
    await town.redis.execute("HSET", keys.task(TaskId.new()), "state", "running")  # no id
    await town.redis.execute("HSET", keys.task(TaskId.new()), "id", "nope", "state", "pending")
    await town.redis.execute("SET", keys.task(TaskId.new()), "a string, not a hash")
    plain = await status.status(town)
    assert plain.tasks.total == 2
    assert plain.tasks.running == 2
    (row,) = plain.agents
    assert row.running_ids == [first.task.id, second.task.id]  # oldest start first
    assert [t.description for t in row.running] == ["First job"]  # only the one shown
    deep = await status.status(town, deep=True, tasks=True)
    assert [t.description for t in deep.agents[0].running] == ["First job", "Second job"]
    assert [t.description for t in deep.groups[0].tasks] == ["Second job", "First job"]


async def test_status_counts_a_record_whose_id_is_another_uuid_form(town: Town) -> None:
    task = Task.new("Shouting id", datetime.now(UTC))
    fields, _ = task_to_hash(task)
    fields["id"] = str(task.id).upper()  # parses as the same UUID: the record is readable
    key = town.channel.keys.task(task.id)
    await town.redis.execute("HSET", key, *[x for kv in fields.items() for x in kv])
    await town.redis.execute("HSET", town.channel.keys.task(TaskId.new()), "id", "")
    report = await status.status(town, tasks=True)
    assert report.tasks.total == report.tasks.pending == 1
    (group,) = report.groups
    assert [(t.id, t.description) for t in group.tasks] == [(task.id, "Shouting id")]


# --- round trips at scale -------------------------------------------------------------------


async def _seed(town: Town, n_agents: int, n_tasks: int) -> None:
    """Write agents, tasks and two messages per agent directly, in large pipelines."""
    keys = town.channel.keys
    now = datetime.now(UTC)
    agents = [Agent.new(f"a{i}", "claude", now) for i in range(n_agents)]
    pipe = town.redis.pipeline()
    for a in agents:
        fields, _ = agent_to_hash(a)
        pipe.cmd("HSET", keys.agent(a.id), *[x for kv in fields.items() for x in kv])
        assign = MessageType.TaskAssign(task_id=str(TaskId.new()))
        for kind in (assign, MessageType.Query(question="q")):
            pipe.cmd("RPUSH", keys.inbox(a.id), message_to_json(Message(a.id, a.id, kind)))
    await pipe.execute()
    states = list(TaskState)
    for start in range(0, n_tasks, 20_000):
        pipe = town.redis.pipeline()
        for i in range(start, min(start + 20_000, n_tasks)):
            t = Task.new(f"task {i}", now)
            t.state = states[i % len(states)]
            t.assigned_to = agents[i % n_agents].id if i % 7 else None
            fields, _ = task_to_hash(t)
            pipe.cmd("HSET", keys.task(t.id), *[x for kv in fields.items() for x in kv])
        await pipe.execute()


async def _drop_town_keys(town: Town) -> None:
    found = await town.redis.execute("KEYS", town.channel.keys.all_pattern)
    for start in range(0, len(found), 10_000):
        await town.redis.execute("UNLINK", *found[start : start + 10_000])


async def _costs(town: Town) -> tuple[int, int, int]:
    before = town.redis.round_trips
    plain = await status.status(town)
    mid = town.redis.round_trips
    full = await status.status(town, tasks=True)
    after = town.redis.round_trips
    everything = await inbox.inbox_all(town)
    end = town.redis.round_trips
    assert plain.tasks.total == full.tasks.total
    assert everything.sections
    return mid - before, after - mid, end - after


@pytest.mark.parametrize("enabled", [True, False])
async def test_status_collects_no_garbage_while_the_rows_live_and_restores_the_collector(
    town: Town, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,000 task rows set off collections unless status pauses the collector while they
    live (in ``_gather``); it leaves the collector as it found it."""
    await _seed(town, 20, 2_000)
    started: list[int] = []
    during: list[int] = []
    gather = status._gather

    async def watched(*args: Any, **kwargs: Any) -> Any:
        before = len(started)
        try:
            return await gather(*args, **kwargs)
        finally:
            during.extend(started[before:])

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    monkeypatch.setattr(status, "_gather", watched)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    gc.callbacks.append(note)
    try:
        report = await status.status(town, tasks=True)
        after = gc.isenabled()
    finally:
        gc.callbacks.remove(note)
        (gc.enable if was else gc.disable)()
    assert report.tasks.total == 2_000
    assert sum(len(g.tasks) for g in report.groups) == 21 * 5
    assert during == []
    assert after is enabled


@pytest.mark.slow
async def test_round_trips_do_not_grow_with_1000_agents_and_100k_tasks(town: Town) -> None:
    await _seed(town, 3, 10)
    small = await _costs(town)
    await _drop_town_keys(town)
    try:
        started = time.monotonic()
        await _seed(town, 1000, 100_000)
        big = await _costs(town)
        print(f"seed+measure at 1000 agents / 100k tasks: {time.monotonic() - started:.1f}s")
        report = await status.status(town, tasks=True)
        assert len(report.agents) == 1000
        assert report.tasks.total == 100_000
    finally:
        await _drop_town_keys(town)
    assert small == big == (5, 5, 4)
