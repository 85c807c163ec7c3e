"""``tt sync``: push ``tasks.toml`` into Redis and pull Redis task states back.

Each plan entry maps to the task tagged ``plan:<entry id>``.

* **push** creates a task for every entry that has none in Redis yet (entry
  tags + ``plan:<id>``; Completed/Failed with ``Completed via sync``/``Failed
  via sync`` for those statuses; ``parent`` becomes the ``parent_id`` of the
  parent entry's task). A live entry naming an agent (``agent =``, else
  ``[meta] default_agent``) that exists is assigned to it and delivered to its
  inbox, as ``tt assign`` does; the other live entries go to the backlog (the
  report names agents that do not exist). Entries already in Redis are left
  alone: Redis is the source of truth at runtime, and pushing twice does not
  duplicate work (0.10 created new tasks on every push and delivered none).
  All tasks of one push are written in one ``MULTI``/``EXEC``.
* **pull** (a real snapshot, where 0.10 only wrote a template) updates the
  file with, for every task, its current description, status, tags and
  assignee: plan tasks by their plan id, ad-hoc tasks (``tt assign``, ``tt
  backlog add``…) under their task id, which a later push recognises.
  Entries with no task in Redis are kept as they are, and so are the file's
  comments, layout and keys this tool does not know
  (:mod:`tinytown.services.plan_toml`). The file is replaced atomically.

The pure merge step is :func:`merge_pull`; file parsing is in
:mod:`tinytown.services.plan_file`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

import attrs
import trio

from tinytown.errors import AgentNotFoundError, PlanError
from tinytown.models import Agent, AgentId, Task, TaskId, TaskState
from tinytown.services._txn import assigned_event, queue_assignment, queue_task_write
from tinytown.services.plan_file import (
    PLAN_FILE,
    Plan,
    PlanEntry,
    read_plan,
    write_plan,
    write_plan_text,
    write_template,
)
from tinytown.services.plan_toml import update_plan_text
from tinytown.town import Town, utcnow

PUSH_COMPLETED_RESULT = "Completed via sync"
PUSH_FAILED_RESULT = "Failed via sync"
PLAN_TAG_PREFIX = "plan:"


@attrs.frozen
class PushReport:
    """Outcome of :func:`push`.

    Attributes:
        created: entries and the tasks created for them (as stored).
        skipped: entries Redis already has, with their task.
        delivered: the agents that were sent tasks (by id: their names).
        unknown_agents: agent names the plan uses that match no agent (their tasks
            went to the backlog).
    """

    created: list[tuple[PlanEntry, Task]]
    skipped: list[tuple[PlanEntry, Task]]
    delivered: dict[AgentId, str] = attrs.field(factory=dict)
    unknown_agents: list[str] = attrs.field(factory=list)
    notes: tuple[str, ...] = ()

    @property
    def backlogged(self) -> list[tuple[PlanEntry, Task]]:
        return [(e, t) for e, t in self.created if t.state is TaskState.PENDING]

    @property
    def assigned(self) -> list[tuple[PlanEntry, Task]]:
        return [(e, t) for e, t in self.created if t.state is TaskState.ASSIGNED]


@attrs.frozen
class PullReport:
    """Outcome of :func:`pull`.

    Attributes:
        plan: The plan as written.
        updated: Ids of file entries refreshed from Redis.
        added: Ids of plan tasks appended to the file.
        created_template: The file was missing and Redis had no plan task: the
            template was written instead.
    """

    plan: Plan
    updated: list[str]
    added: list[str]
    created_template: bool = False

    @property
    def count(self) -> int:
        return len(self.updated) + len(self.added)


def plan_path(root: Path) -> Path:
    return root / PLAN_FILE


def plan_tasks(tasks: Iterable[Task]) -> dict[str, Task]:
    """Pure: the newest task of each plan id (by ``updated_at``, then ``created_at``)."""
    out: dict[str, Task] = {}
    for task in tasks:
        pid = task.plan_id
        if pid is None:
            continue
        best = out.get(pid)
        if best is None or (task.updated_at, task.created_at) > (best.updated_at, best.created_at):
            out[pid] = task
    return out


def tasks_for_push(
    plan: Plan, existing: Mapping[str, Task], now: datetime
) -> list[tuple[PlanEntry, Task]]:
    """Pure: the new tasks for the entries of ``plan`` not in ``existing`` (by plan id)."""
    ids: dict[str, TaskId] = {pid: t.id for pid, t in existing.items()}
    fresh: list[tuple[PlanEntry, Task]] = []
    for entry in plan.tasks:
        if entry.id in existing:
            continue
        task = Task.new(entry.description, now, tags=[*entry.tags, f"{PLAN_TAG_PREFIX}{entry.id}"])
        if entry.status == "completed":
            task = task.completed(PUSH_COMPLETED_RESULT, now)
        elif entry.status == "failed":
            task = task.failed(PUSH_FAILED_RESULT, now)
        ids[entry.id] = task.id
        fresh.append((entry, task))
    return [
        (entry, attrs.evolve(task, parent_id=ids.get(entry.parent)) if entry.parent else task)
        for entry, task in fresh
    ]


def merge_pull(
    plan: Plan | None, tasks: Iterable[Task], agents: Mapping[AgentId, Agent]
) -> tuple[Plan, list[str], list[str]]:
    """Pure: ``plan`` refreshed from the plan tasks in ``tasks``.

    Returns:
        The new plan, the ids of entries refreshed, the ids of entries added.
    """
    base = plan or Plan()
    latest = known_tasks(tasks)
    by_task_id = {t.id: pid for pid, t in latest.items()}
    updated: list[str] = []
    entries: list[PlanEntry] = []
    for entry in base.tasks:
        task = latest.get(entry.id)
        if task is None:
            entries.append(entry)
            continue
        updated.append(entry.id)
        entries.append(_entry_from_task(entry.id, task, agents, by_task_id, entry))
    known = {e.id for e in base.tasks}
    added = [pid for pid in sorted(latest, key=lambda p: latest[p].created_at) if pid not in known]
    entries.extend(_entry_from_task(pid, latest[pid], agents, by_task_id, None) for pid in added)
    return attrs.evolve(base, tasks=tuple(entries)), updated, added


def _entry_from_task(
    plan_id: str,
    task: Task,
    agents: Mapping[AgentId, Agent],
    by_task_id: Mapping[TaskId, str],
    old: PlanEntry | None,
) -> PlanEntry:
    agent_name = old.agent if old else None
    if task.assigned_to is not None:
        rec = agents.get(task.assigned_to)
        if rec is not None:
            agent_name = rec.name
        elif task.assigned_to.is_supervisor:
            agent_name = "supervisor"
    parent = old.parent if old else None
    if task.parent_id is not None and task.parent_id in by_task_id:
        parent = by_task_id[task.parent_id]
    return PlanEntry(
        id=plan_id,
        description=task.description,
        agent=agent_name,
        status=task.state.value,
        tags=tuple(t for t in task.tags if not t.startswith(PLAN_TAG_PREFIX)),
        parent=parent if parent != plan_id else None,
    )


async def load_plan(root: Path) -> Plan | None:
    """Read ``<root>/tasks.toml`` off the event loop; None when it is missing.

    Raises:
        PlanError: invalid content (the message names the line).
    """
    return await trio.to_thread.run_sync(read_plan, plan_path(root))


async def push(town: Town, plan: Plan | None = None) -> PushReport:
    """Create the plan's tasks Redis does not have yet and deliver them (one transaction).

    Args:
        town: The connected town.
        plan: The plan to push; default: the town's ``tasks.toml``.

    Raises:
        PlanError: no ``tasks.toml``, or it is invalid.
        AmbiguousAgentError: an ``agent =`` matches several agents.
    """
    if plan is None:
        plan = await load_plan(town.root)
        if plan is None:
            raise PlanError(f"No {PLAN_FILE} found. Run 'tt plan --init' first.")
    all_tasks = await town.channel.list_tasks()
    existing = known_tasks(all_tasks)
    now = utcnow()
    fresh = tasks_for_push(plan, existing, now)
    owners: dict[str, AgentId | None] = {}
    for entry, task in fresh:
        name = entry.agent or plan.meta.default_agent
        if name and not task.is_terminal and name not in owners:
            try:
                owners[name] = (await town.resolve(name))[0]
            except AgentNotFoundError:
                owners[name] = None
    stored: list[tuple[PlanEntry, Task]] = []
    delivered: dict[AgentId, str] = {}
    if fresh:
        keys = town.channel.keys
        pipe = town.redis.pipeline(transaction=True)
        for entry, task in fresh:
            owner = owners.get(entry.agent or plan.meta.default_agent or "")
            if task.is_terminal:
                queue_task_write(pipe, keys, task)
            elif owner is not None:
                task = task.assigned(owner, now)
                queue_assignment(pipe, keys, task)
                delivered[owner] = entry.agent or plan.meta.default_agent or str(owner)
            else:
                queue_task_write(pipe, keys, task)
                pipe.cmd("RPUSH", keys.backlog, str(task.id))
            stored.append((entry, task))
        await pipe.execute()
        for _, task in stored:
            if task.assigned_to is not None:
                await town.channel.emit(assigned_event(task, task.assigned_to, now))
    return PushReport(
        created=stored,
        skipped=[(e, existing[e.id]) for e in plan.tasks if e.id in existing],
        delivered=delivered,
        unknown_agents=sorted(name for name, owner in owners.items() if owner is None),
        notes=plan.notes,
    )


def known_tasks(tasks: Iterable[Task]) -> dict[str, Task]:
    """Pure: the tasks a plan entry id may stand for: plan ids, then ad-hoc task ids."""
    known = {str(t.id): t for t in tasks if t.plan_id is None}
    known.update(plan_tasks(tasks))
    return known


async def pull(town: Town) -> PullReport:
    """Snapshot the town's tasks into ``<root>/tasks.toml`` (comments and unknown keys kept).

    Raises:
        PlanError: the existing file is invalid (it is left untouched).
    """
    path = plan_path(town.root)
    plan = await load_plan(town.root)
    tasks = await town.channel.list_tasks()
    if plan is None and not tasks:
        await trio.to_thread.run_sync(lambda: write_template(path))
        return PullReport(Plan(), [], [], created_template=True)
    agents = {a.id: a for a in await town.channel.list_agents()}
    merged, updated, added = merge_pull(plan, tasks, agents)
    if updated or added:
        touched = {*updated, *added}
        await trio.to_thread.run_sync(_write_pulled, path, merged, touched, plan is not None)
    return PullReport(merged, updated, added)


def _write_pulled(path: Path, plan: Plan, touched: set[str], existed: bool) -> None:
    if not existed:
        write_plan(path, plan)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"Cannot read {path.name}: {exc}") from None
    write_plan_text(path, update_plan_text(text, plan, touched))
