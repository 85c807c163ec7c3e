"""``tt sync``: push ``tasks.toml`` into Redis and pull Redis task states back.

Each plan entry maps to the task tagged ``plan:<entry id>``.

* **push** creates a task for every entry that has none in Redis yet (entry
  tags + ``plan:<id>``; Pending, or Completed/Failed with ``Completed via
  sync``/``Failed via sync`` for those statuses; ``parent`` becomes the
  ``parent_id`` of the parent entry's task). Entries already in Redis are left
  alone: Redis is the source of truth at runtime, and pushing twice does not
  duplicate work (0.10 created new tasks on every push). All tasks of one
  push are written in one ``MULTI``/``EXEC``. ``agent`` is not assigned, as in 0.10.
* **pull** (a real snapshot, where 0.10 only wrote a template) rewrites the
  file with, for every plan task, its current description, status, tags and
  assignee; plan tasks missing from the file are appended. Entries with no
  task in Redis are kept as they are. The file is replaced atomically.

The pure merge step is :func:`merge_pull`; file parsing is in
:mod:`tinytown.services.plan_file`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

import attrs
import trio

from tinytown.errors import PlanError
from tinytown.models import Agent, AgentId, Task, TaskId
from tinytown.services._txn import queue_task_write
from tinytown.services.plan_file import (
    PLAN_FILE,
    Plan,
    PlanEntry,
    read_plan,
    write_plan,
    write_template,
)
from tinytown.town import Town, utcnow

PUSH_COMPLETED_RESULT = "Completed via sync"
PUSH_FAILED_RESULT = "Failed via sync"
PLAN_TAG_PREFIX = "plan:"


@attrs.frozen
class PushReport:
    """Outcome of :func:`push`: tasks created, and entries skipped because Redis has them."""

    created: list[tuple[PlanEntry, Task]]
    skipped: list[tuple[PlanEntry, Task]]


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
    latest = plan_tasks(tasks)
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
    """Create the tasks of the plan that Redis does not have yet (one transaction).

    Args:
        town: The connected town.
        plan: The plan to push; default: the town's ``tasks.toml``.

    Raises:
        PlanError: no ``tasks.toml``, or it is invalid.
    """
    if plan is None:
        plan = await load_plan(town.root)
        if plan is None:
            raise PlanError(f"No {PLAN_FILE} found. Run 'tt plan --init' first.")
    existing = plan_tasks(await town.channel.list_tasks())
    fresh = tasks_for_push(plan, existing, utcnow())
    if fresh:
        pipe = town.redis.pipeline(transaction=True)
        for _, task in fresh:
            queue_task_write(pipe, town.channel.keys, task)
        await pipe.execute()
    return PushReport(
        created=fresh,
        skipped=[(e, existing[e.id]) for e in plan.tasks if e.id in existing],
    )


async def pull(town: Town) -> PullReport:
    """Snapshot the plan tasks of Redis into ``<root>/tasks.toml``.

    Raises:
        PlanError: the existing file is invalid (it is left untouched).
    """
    path = plan_path(town.root)
    plan = await load_plan(town.root)
    tasks = await town.channel.list_tasks()
    if plan is None and not plan_tasks(tasks):
        await trio.to_thread.run_sync(lambda: write_template(path))
        return PullReport(Plan(), [], [], created_template=True)
    agents = {a.id: a for a in await town.channel.list_agents()}
    merged, updated, added = merge_pull(plan, tasks, agents)
    if updated or added:
        await trio.to_thread.run_sync(write_plan, path, merged)
    return PullReport(merged, updated, added)
