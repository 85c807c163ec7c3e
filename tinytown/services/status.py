"""The town overview of ``tt status`` (cli.md §5.4), as data.

Gathering costs five round trips whatever the number of agents and tasks:
agents (KEYS + one pipeline), tasks (KEYS + one pipeline of HMGET of the few
fields the summaries need), and one pipeline for every queue length, inbox
sample and activity list, the backlog length and the whole records of the
tasks shown (every running one with ``deep``, else each agent's first; the
first of each group). The summaries are pure
functions of what was read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Generic, Protocol, TypeVar

import attrs
import trio

from tinytown.channel import decode_messages, reply_or
from tinytown.codec import pairs_to_dict, parse_ts, task_from_hash
from tinytown.epoch import note_counts
from tinytown.errors import CorruptRecordError, InvalidInputError
from tinytown.models import Agent, AgentId, Task, TaskId, TaskState
from tinytown.models.ids import CANONICAL_ID
from tinytown.services.agent_logs import AgentLogExcerpt, read_agent_logs
from tinytown.services.deadletters import DeadLetters
from tinytown.services.deadletters import from_replies as dead_letters_from
from tinytown.services.deadletters import queue_reads as queue_dead_letter_reads
from tinytown.services.messages import CategoryCounts, count_categories
from tinytown.town import Town

log = logging.getLogger(__name__)

STATUS_SAMPLE: Final = 200
ACTIVITY_SHOWN: Final = 5
GROUP_TASKS_SHOWN: Final = 5
# What counting, grouping and ordering read of every task (the rest only for the tasks shown).
SUMMARY_FIELDS: Final = ("id", "state", "assigned_to", "created_at", "updated_at", "started_at")

# Listing order inside a task group: live work first.
_STATE_ORDER: Final = {
    TaskState.RUNNING: 0,
    TaskState.ASSIGNED: 1,
    TaskState.PENDING: 2,
    TaskState.FAILED: 3,
    TaskState.COMPLETED: 4,
    TaskState.CANCELLED: 5,
}


@attrs.frozen
class TaskCounts:
    """Tasks per state."""

    pending: int = 0
    assigned: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.in_flight + self.done

    @property
    def in_flight(self) -> int:
        return self.assigned + self.running

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.cancelled

    def get(self, state: TaskState) -> int:
        value: int = getattr(self, state.value)
        return value


@attrs.frozen
class AgentStatus:
    """One agent's line: queues, category counts over the sample, running tasks, activity.

    ``running_ids``: every running task of the agent, oldest start first;
    ``running``: the whole records of those shown — all with ``deep``, else the first.
    """

    agent: Agent
    length: int
    urgent: int
    sampled: int
    counts: CategoryCounts
    running: list[Task]
    running_ids: list[TaskId]
    activity: list[str]
    dead: DeadLetters = attrs.field(factory=DeadLetters)


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


# --- pure summaries ---------------------------------------------------------------------


class TaskLike(Protocol):
    """What the summaries read of a task: a whole :class:`Task` or a :class:`TaskHead`."""

    @property
    def state(self) -> TaskState: ...
    @property
    def assigned_to(self) -> AgentId | None: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def started_at(self) -> datetime | None: ...


T = TypeVar("T", bound=TaskLike)


def count_tasks(tasks: Sequence[TaskLike]) -> TaskCounts:
    """How many tasks are in each state."""
    n = dict.fromkeys(TaskState, 0)
    for t in tasks:
        n[t.state] += 1
    return TaskCounts(**{s.value: n[s] for s in TaskState})


def running_by_agent(tasks: Sequence[T]) -> dict[AgentId, list[T]]:
    """Running tasks per assignee, oldest start first."""
    out: dict[AgentId, list[T]] = {}
    for t in tasks:
        if t.state is TaskState.RUNNING and t.assigned_to is not None:
            out.setdefault(t.assigned_to, []).append(t)
    for group in out.values():
        group.sort(key=lambda t: t.started_at or t.updated_at)
    return out


def group_tasks(
    tasks: Sequence[Task], agents: Sequence[Agent], shown: int = GROUP_TASKS_SHOWN
) -> list[TaskGroup]:
    """Tasks by assignee: known agents in their order, then unknown ids, then unassigned."""
    return [g.build(lambda t: t) for g in _groups(tasks, agents, shown)]


@attrs.frozen
class _Grouping(Generic[T]):
    """A group before its shown tasks are whole records."""

    agent_id: AgentId | None
    agent: Agent | None
    active: int
    done: int
    shown: list[T]
    total: int

    def build(self, whole: Callable[[T], Task]) -> TaskGroup:
        return TaskGroup(agent_id=self.agent_id, agent=self.agent, active=self.active,
                         done=self.done, tasks=[whole(t) for t in self.shown], total=self.total)


def _groups(tasks: Sequence[T], agents: Sequence[Agent], shown: int) -> list[_Grouping[T]]:
    by_owner: dict[AgentId | None, list[T]] = {}
    for t in tasks:
        by_owner.setdefault(t.assigned_to, []).append(t)
    known = {a.id: a for a in agents}
    order: list[AgentId | None] = [a.id for a in agents if a.id in by_owner]
    order += sorted((k for k in by_owner if k is not None and k not in known), key=str)
    if None in by_owner:
        order.append(None)
    groups = []
    for owner in order:
        mine = sorted(
            by_owner[owner],
            key=lambda t: (_STATE_ORDER[t.state], -t.updated_at.timestamp()),
        )
        done = sum(1 for t in mine if t.state.is_terminal)
        groups.append(
            _Grouping(
                agent_id=owner,
                agent=known.get(owner) if owner is not None else None,
                active=len(mine) - done,
                done=done,
                shown=mine[:shown],
                total=len(mine),
            )
        )
    return groups


class TaskHead:
    """The summary fields of one task as read by HMGET; timestamps parsed on first use."""

    __slots__ = ("_created", "_owner", "_owner_read", "_started", "_updated", "fields", "id",
                 "state")

    def __init__(self, fields: list[str | None], task_id: str) -> None:
        self.fields = fields
        self.id = task_id  # canonical text (a TaskId only for the few tasks shown)
        self.state = _STATES.get(fields[1] or "", TaskState.PENDING)
        self._owner: AgentId | None = None
        self._owner_read = False
        self._created: datetime | None = None
        self._updated: datetime | None = None
        self._started: datetime | None = None

    @property
    def assigned_to(self) -> AgentId | None:
        if not self._owner_read:
            owner = self.fields[2]
            try:
                self._owner = None if owner is None else AgentId.parse(owner)
            except InvalidInputError:
                self._owner = None
            self._owner_read = True
        return self._owner

    @property
    def created_at(self) -> datetime:
        if self._created is None:
            self._created = _ts(self.fields[3]) or datetime.now(UTC)
        return self._created

    @property
    def updated_at(self) -> datetime:
        if self._updated is None:
            self._updated = _ts(self.fields[4]) or datetime.now(UTC)
        return self._updated

    @property
    def started_at(self) -> datetime | None:
        if self._started is None:
            self._started = _ts(self.fields[5])
        return self._started

    def whole(self, records: dict[str, Task]) -> Task:
        """The whole record if it was fetched, else a Task of the summary fields."""
        found = records.get(self.id)
        if found is not None:
            return found
        fields = {k: v for k, v in zip(SUMMARY_FIELDS, self.fields, strict=True) if v is not None}
        fields["id"] = self.id
        return task_from_hash(fields, self.id)


_STATES: Final = {s.value: s for s in TaskState} | {"in_flight": TaskState.RUNNING}


def _ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        return None


# --- gathering -----------------------------------------------------------------------------


async def task_summaries(town: Town) -> list[TaskHead]:
    """Every readable task's :data:`SUMMARY_FIELDS`, in key order (2 round trips).

    Records are skipped (with a warning) exactly when the whole record would be:
    a key of another type, or no valid ``id``.
    """
    keys: list[str] = await town.redis.execute("KEYS", town.channel.keys.scan_pattern("task"))
    if not keys:
        return []
    pipe = town.redis.pipeline()
    for key in keys:
        pipe.cmd("HMGET", key, *SUMMARY_FIELDS)
    replies = await pipe.execute(raise_on_error=False)
    out = []
    for key, reply in zip(keys, replies, strict=True):
        if isinstance(reply, Exception):
            log.warning("skipping %s: %s", key, reply)
            continue
        if reply[0] is None:
            if any(v is not None for v in reply):
                log.warning("skipping corrupt record: %s: no id", key)
            continue  # deleted meanwhile, or no id
        task_id = reply[0]
        if len(task_id) != 36 or not CANONICAL_ID.fullmatch(task_id):
            try:
                task_id = TaskId.parse(task_id).text
            except InvalidInputError as exc:
                log.warning("skipping corrupt record: %s: %s", key, exc)
                continue
        out.append(TaskHead(reply, task_id))
    return out


async def status(town: Town, *, deep: bool = False, tasks: bool = False) -> StatusReport:
    """The town overview; ``tasks`` adds groups by assignee, ``deep`` activity and logs."""
    agents = await town.channel.list_agents()
    heads = await task_summaries(town)
    # oldest first among equals, as whole-record listings are ordered
    live = sorted((h for h in heads if h.state is TaskState.RUNNING), key=lambda h: h.created_at)
    running_heads = running_by_agent(live)
    if tasks:
        heads.sort(key=lambda h: h.created_at)
    chosen = _groups(heads, agents, GROUP_TASKS_SHOWN) if tasks else []
    described = {aid: hs if deep else hs[:1] for aid, hs in running_heads.items()}
    shown = list({t.id: t for ts in described.values() for t in ts}
                 | {t.id: t for g in chosen for t in g.shown})
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
    replies = await pipe.execute(raise_on_error=False)
    full = _whole_tasks(shown, replies[len(replies) - 1 - len(shown) : -1])
    running = {aid: [h.whole(full) for h in hs] for aid, hs in described.items()}
    groups = [g.build(lambda h: h.whole(full)) for g in chosen]
    step = 6 if deep else 3
    rows = []
    for i, a in enumerate(agents):
        length, urgent, raw = replies[step * i : step * i + 3]
        sample = decode_messages(reply_or(raw, keys.inbox(a.id), []), keys.inbox(a.id))
        activity = reply_or(replies[step * i + 3], keys.activity(a.id), []) if deep else []
        dead = (dead_letters_from(replies[step * i + 4], replies[step * i + 5],
                                  keys.deadletter(a.id)) if deep else DeadLetters())
        rows.append(
            AgentStatus(
                agent=a,
                length=reply_or(length, keys.inbox(a.id), 0),
                urgent=reply_or(urgent, keys.urgent(a.id), 0),
                sampled=len(sample),
                counts=count_categories(sample),
                running=running.get(a.id, []),
                running_ids=[TaskId(h.id) for h in running_heads.get(a.id, [])],
                activity=list(activity),
                dead=dead,
            )
        )
    logs: list[AgentLogExcerpt] = []
    if deep:
        ids = [(str(a.id), a.name) for a in agents]
        logs = await trio.to_thread.run_sync(read_agent_logs, town.tt_dir / "logs", ids)
    counts = count_tasks(heads)
    note_counts(town.root, len(rows), counts.total)  # the epoch marker's "last known"
    return StatusReport(
        town=town.name,
        root=town.root,
        redis=town.target.redacted,
        agents=rows,
        tasks=counts,
        backlog=reply_or(replies[-1], keys.backlog, 0),
        groups=groups,
        logs=logs,
    )


def _whole_tasks(ids: Sequence[str], replies: Sequence[object]) -> dict[str, Task]:
    """The shown tasks' HGETALL replies, decoded (a record gone meanwhile keeps its summary)."""
    out = {}
    for task_id, reply in zip(ids, replies, strict=True):
        if isinstance(reply, Exception) or not reply:
            continue
        try:
            out[task_id] = task_from_hash(pairs_to_dict(reply), task_id)
        except CorruptRecordError:
            continue
    return out
