"""The town overview of ``tt status`` (cli.md §5.4), as data.

Gathering costs five round trips whatever the number of agents and tasks:
agents (KEYS + one pipeline), tasks (KEYS + one pipeline of HMGET of the few
fields the summaries need, :mod:`tinytown.services.task_rows`), and one
pipeline for every queue length, inbox sample and activity list, the backlog
length and the whole records of the tasks shown (every running one with
``deep``, else each agent's first; the first of each group). The summaries
are pure functions of what was read. No garbage collection runs meanwhile
(see :func:`_collection_paused`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import trio

from tinytown.channel import decode_messages, reply_or
from tinytown.codec import pairs_to_dict, task_from_hash
from tinytown.epoch import note_counts
from tinytown.errors import CorruptRecordError
from tinytown.models import Agent, AgentId, Task, TaskId
from tinytown.services.agent_logs import AgentLogExcerpt, read_agent_logs
from tinytown.services.deadletters import DeadLetters
from tinytown.services.deadletters import from_replies as dead_letters_from
from tinytown.services.deadletters import queue_reads as queue_dead_letter_reads
from tinytown.services.messages import CategoryCounts, count_categories
from tinytown.services.task_rows import ID, Row, read_rows, row_task
from tinytown.services.task_summary import Clock, Summaries
from tinytown.services.task_summary import TaskCounts as TaskCounts
from tinytown.town import Town

STATUS_SAMPLE: Final = 200
ACTIVITY_SHOWN: Final = 5
GROUP_TASKS_SHOWN: Final = 5


@attrs.frozen
class AgentStatus:
    """One agent's line: queues, category counts over the sample, running tasks, activity.

    ``running_texts``: the id of every running task of the agent, oldest start first
    (as text: at scale there are tens of thousands, and the text mode shows none);
    ``running``: the whole records of those shown — all with ``deep``, else the first.
    """

    agent: Agent
    length: int
    urgent: int
    sampled: int
    counts: CategoryCounts
    running: list[Task]
    running_texts: list[str]
    activity: list[str]
    dead: DeadLetters = attrs.field(factory=DeadLetters)

    @property
    def running_ids(self) -> list[TaskId]:
        return [TaskId(text) for text in self.running_texts]


@attrs.frozen
class TaskGroup:
    """Tasks of one assignee (``agent_id`` None: unassigned), live work first."""

    agent_id: AgentId | None
    agent: Agent | None
    active: int
    done: int
    tasks: list[Task]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.tasks)


@attrs.frozen
class StatusReport:
    """Everything ``tt status`` shows."""

    town: str
    root: Path
    redis: str
    agents: list[AgentStatus]
    tasks: TaskCounts
    backlog: int
    groups: list[TaskGroup]
    logs: list[AgentLogExcerpt]

    @property
    def terminal_agents(self) -> int:
        return sum(1 for a in self.agents if a.agent.state.is_prunable)


async def status(town: Town, *, deep: bool = False, tasks: bool = False) -> StatusReport:
    """The town overview; ``tasks`` adds groups by assignee, ``deep`` activity and logs."""
    with _collection_paused():  # the rows are gone when _gather returns: nothing left to walk
        agents, lines, counts, groups, backlog = await _gather(town, deep=deep, tasks=tasks)
    logs: list[AgentLogExcerpt] = []
    if deep:
        names = [(str(a.id), a.name) for a in agents]
        logs = await trio.to_thread.run_sync(read_agent_logs, town.tt_dir / "logs", names)
    note_counts(town.root, len(lines), counts.total)  # the epoch marker's "last known"
    return StatusReport(
        town=town.name,
        root=town.root,
        redis=town.target.redacted,
        agents=lines,
        tasks=counts,
        backlog=backlog,
        groups=groups,
        logs=logs,
    )


async def _gather(
    town: Town, *, deep: bool, tasks: bool
) -> tuple[list[Agent], list[AgentStatus], TaskCounts, list[TaskGroup], int]:
    """Agents, their lines, task counts and groups, and the backlog length, from five reads."""
    agents = await town.channel.list_agents()
    rows, ids = await read_rows(town)
    summaries = Summaries(rows, ids)
    chosen = summaries.groups(agents, GROUP_TASKS_SHOWN) if tasks else []
    counts = summaries.counts()
    running = summaries.running()
    described = {aid: [rows[i] for i in (at if deep else at[:1])]
                 for aid, at in running.items()}
    shown = list({r[ID]: r for rs in described.values() for r in rs}
                 | {r[ID]: r for g in chosen for r in g.shown})
    replies = await _read_queues_and_shown(town, agents, shown, deep=deep)
    full = _whole_tasks(shown, replies[len(replies) - 1 - len(shown) : -1], summaries.clock)

    def whole(row: Row) -> Task:  # a record gone or corrupt meanwhile keeps its summary
        found = full.get(row[ID] or "")
        return row_task(row) if found is None else found

    groups = [TaskGroup(agent_id=g.agent_id, agent=g.agent, active=g.active, done=g.done,
                        tasks=[whole(r) for r in g.shown], total=g.total) for g in chosen]
    step = 6 if deep else 3
    keys = town.channel.keys
    lines = []
    for i, a in enumerate(agents):
        length, urgent, raw = replies[step * i : step * i + 3]
        sample = decode_messages(reply_or(raw, keys.inbox(a.id), []), keys.inbox(a.id))
        activity = reply_or(replies[step * i + 3], keys.activity(a.id), []) if deep else []
        dead = (dead_letters_from(replies[step * i + 4], replies[step * i + 5],
                                  keys.deadletter(a.id)) if deep else DeadLetters())
        lines.append(AgentStatus(
            agent=a,
            length=reply_or(length, keys.inbox(a.id), 0),
            urgent=reply_or(urgent, keys.urgent(a.id), 0),
            sampled=len(sample),
            counts=count_categories(sample),
            running=[whole(r) for r in described.get(a.id, [])],
            running_texts=[ids[i] for i in running.get(a.id, [])],
            activity=list(activity),
            dead=dead,
        ))  # fmt: skip
    return agents, lines, counts, groups, reply_or(replies[-1], keys.backlog, 0)


async def _read_queues_and_shown(
    town: Town, agents: Sequence[Agent], shown: Sequence[str | None], *, deep: bool
) -> list[Any]:
    """One pipeline: each agent's queue lengths and inbox sample (``deep``: activity and
    dead letters too), the whole record of each task shown, the backlog length."""
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    for a in agents:
        pipe.cmd("LLEN", keys.inbox(a.id))
        pipe.cmd("LLEN", keys.urgent(a.id))
        pipe.cmd("LRANGE", keys.inbox(a.id), 0, STATUS_SAMPLE - 1)
        if deep:
            pipe.cmd("LRANGE", keys.activity(a.id), 0, ACTIVITY_SHOWN - 1)
            queue_dead_letter_reads(pipe, town, a.id, 1)
    for task_id in shown:
        pipe.cmd("HGETALL", keys.task(task_id))
    pipe.cmd("LLEN", keys.backlog)
    # A queue key of the wrong type is warned about and shown empty, not fatal.
    return await pipe.execute(raise_on_error=False)


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection in this block; the previous state after.

    CPython starts a collection every so many allocations, and a full one
    walks every live object: with 100,000 task rows alive, the two or three
    that reading them set off cost more than all the summaries. The block
    makes no reference cycles, lasts the five round trips of one status (the
    process's other Trio tasks collect nothing meanwhile) and drops the rows
    before it ends, so nothing of them is left for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _whole_tasks(
    ids: Sequence[str | None], replies: Sequence[object], clock: Clock
) -> dict[str, Task]:
    """The shown tasks' HGETALL replies, decoded (gone or corrupt ones left out); their
    timestamps mostly texts the summaries read already, through the same ``clock``."""
    out = {}
    for task_id, reply in zip(ids, replies, strict=True):
        if isinstance(reply, Exception) or not reply:
            continue
        try:
            out[str(task_id)] = task_from_hash(pairs_to_dict(reply), str(task_id),
                                               now=clock.now, when=clock.when)
        except CorruptRecordError:
            continue
    return out
