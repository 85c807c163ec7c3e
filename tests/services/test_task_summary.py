"""task_summary against the plain reading: whole records, sorted as listings sort them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tinytown.codec import hash_ts, task_from_hash
from tinytown.models import Agent, AgentId, Task, TaskId, TaskState
from tinytown.services.task_rows import ID, SUMMARY_FIELDS, Row
from tinytown.services.task_summary import Summaries

T0 = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
ORDER = [TaskState.RUNNING, TaskState.ASSIGNED, TaskState.PENDING, TaskState.FAILED,
         TaskState.COMPLETED, TaskState.CANCELLED]


def _random_rows(rnd: random.Random, agents: list[Agent]) -> list[Row]:
    ghost = AgentId.new()
    stamps = [hash_ts(T0 + timedelta(seconds=s)) for s in range(4)]  # few: many ties
    stamps += ["2026-04-20T12:00:01Z", "2026-04-20T14:00:02+02:00", "2026-04-20T12:00:03"]
    rows: list[Row] = []
    for _ in range(300):
        owner = rnd.choice([*[str(a.id) for a in agents], str(agents[0].id).upper(),
                            str(ghost), "not an id", None])
        state = rnd.choice([*[s.value for s in TaskState], "in_flight", "weird", None])
        started = rnd.choice([*stamps, None, None])
        rows.append([str(TaskId.new()), state, owner, rnd.choice(stamps), rnd.choice(stamps),
                     started])
    return rows


def _whole(rows: list[Row], now: datetime) -> list[Task]:
    return [task_from_hash({k: v for k, v in zip(SUMMARY_FIELDS, r, strict=True)
                            if v is not None}, now=now) for r in rows]


@pytest.mark.parametrize("seed", range(8))
def test_summaries_order_tasks_as_whole_records_sorted(seed: int) -> None:
    rnd = random.Random(seed)
    agents = [Agent.new(f"a{i}", "claude", T0) for i in range(3)]
    rows = _random_rows(rnd, agents)
    summaries = Summaries(rows)
    tasks = _whole(rows, summaries.clock.now)
    by_id = {str(t.id): t for t in tasks}

    by_created = sorted(tasks, key=lambda t: t.created_at)
    owners: dict[AgentId | None, list[Task]] = {}
    for t in by_created:
        owners.setdefault(t.assigned_to, []).append(t)
    known = [a.id for a in agents if a.id in owners]
    expected_order = known + sorted((k for k in owners if k is not None and k not in known),
                                    key=str) + ([None] if None in owners else [])
    groups = summaries.groups(agents, 4)
    assert [g.agent_id for g in groups] == expected_order
    for g in groups:
        mine = sorted(owners[g.agent_id],
                      key=lambda t: (ORDER.index(t.state), -t.updated_at.timestamp()))
        assert [by_id[r[ID] or ""] for r in g.shown] == mine[:4]
        assert (g.total, g.done) == (len(mine), sum(t.state.is_terminal for t in mine))

    running: dict[AgentId, list[Task]] = {}
    for t in by_created:
        if t.state is TaskState.RUNNING and t.assigned_to is not None:
            running.setdefault(t.assigned_to, []).append(t)
    for ts in running.values():
        ts.sort(key=lambda t: t.started_at or t.updated_at)
    assert {who: [tasks[i] for i in at] for who, at in summaries.running().items()} == running
    alone = Summaries(rows)  # running tasks without the groups' buckets
    alone.clock.now = summaries.clock.now
    assert alone.running() == summaries.running()
    counts = summaries.counts()
    assert [counts.get(s) for s in TaskState] == [
        sum(t.state is s for t in tasks) for s in TaskState
    ]
