"""The backlog of unassigned tasks: add, list, claim, assign-all, remove (cli.md §5.6).

Claiming resolves the agent before touching anything, then removes the entry,
stores the assigned task and queues its message in one transaction: a typo in
the agent name, an unknown task or a concurrent claim leaves the backlog as
it was. Role matching (agent-loop.md §6) is a pure function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from tinytown.codec import pairs_to_dict, task_from_hash
from tinytown.errors import (
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    TaskNotFoundError,
)
from tinytown.models import Task, TaskId
from tinytown.redis.pipeline import Transaction
from tinytown.scripts import REMOVE_BACKLOG_TASK
from tinytown.services._txn import (
    assigned_event,
    queue_assignment,
    queue_task_write,
    resolve_task_id,
    run_watched,
)
from tinytown.services.tasks import Assignment
from tinytown.town import Town, utcnow

SNAPSHOT_LIMIT: Final = 8

# --- role matching (pure) ---------------------------------------------------------------


@attrs.frozen
class RoleHint:
    """A role guessed from an agent's name, the tags it prefers, and the prompt hint."""

    role: str
    name_parts: tuple[str, ...]
    keywords: tuple[str, ...]
    hint: str


ROLES: Final = (
    RoleHint(
        "frontend",
        ("front", "ui", "web", "client"),
        ("frontend", "ui", "web", "client", "ux"),
        "Prioritize tasks tagged frontend/ui/web/client.",
    ),
    RoleHint(
        "backend",
        ("back", "api", "server"),
        ("backend", "api", "server", "database", "data"),
        "Prioritize tasks tagged backend/api/server/database.",
    ),
    RoleHint(
        "tester",
        ("test", "qa"),
        ("test", "qa", "validation", "regression"),
        "Prioritize tasks tagged test/qa/validation/regression.",
    ),
    RoleHint(
        "reviewer",
        ("review", "audit"),
        ("review", "reviewer", "qa", "security", "audit", "validation"),
        "Prioritize review/quality/security validation tasks.",
    ),
    RoleHint(
        "docs",
        ("doc", "writer"),
        ("docs", "doc", "documentation", "spec", "readme"),
        "Prioritize documentation/spec/readme tasks.",
    ),
    RoleHint(
        "devops",
        ("devops", "ops", "infra", "deploy"),
        ("devops", "ops", "infra", "deploy", "ci", "reliability"),
        "Prioritize infrastructure/ci/deploy/reliability tasks.",
    ),
    RoleHint(
        "security",
        ("security",),
        ("security", "sec", "vulnerability", "hardening", "audit"),
        "Prioritize security/vulnerability/hardening tasks.",
    ),
)
GENERAL: Final = RoleHint(
    "general", (), (), "Prioritize tasks matching your current specialization and capabilities."
)


def role_for_name(name: str) -> RoleHint:
    """The role of an agent from its canonical name: first substring hit in table order."""
    lowered = name.lower()
    for role in ROLES:
        if any(part in lowered for part in role.name_parts):
            return role
        if role.role == "security" and lowered == "sec":
            return role
    return GENERAL


def task_matches_role(role: RoleHint, task: Task) -> bool:
    """General matches everything; else a tag equal to a keyword or a keyword in the text."""
    if not role.keywords:
        return True
    tags = {t.lower() for t in task.tags}
    if tags.intersection(role.keywords):
        return True
    text = task.description.lower()
    return any(k in text for k in role.keywords)


@attrs.frozen
class BacklogSnapshot:
    """Backlog tasks matching an agent's role: the first ``limit`` of them and counts."""

    role: RoleHint
    matches: list[Task]
    matching: int
    total_backlog: int


def backlog_snapshot(
    agent_name: str, tasks: Sequence[Task | None], total_backlog: int, limit: int = SNAPSHOT_LIMIT
) -> BacklogSnapshot:
    """Walk backlog tasks in queue order (None = missing record, skipped) and count matches."""
    role = role_for_name(agent_name)
    matched = [t for t in tasks if t is not None and task_matches_role(role, t)]
    return BacklogSnapshot(role, matched[:limit], len(matched), total_backlog)


def parse_tags(text: str | None) -> list[str]:
    """``"a, b,c"`` → ``["a", "b", "c"]``; blank pieces are dropped."""
    if not text:
        return []
    return [piece.strip() for piece in text.split(",") if piece.strip()]


# --- services ------------------------------------------------------------------------------


@attrs.frozen
class BacklogEntry:
    """One backlog entry in queue order; ``task`` is None when its record is missing."""

    task_id: TaskId
    task: Task | None


async def add(town: Town, description: str, tags: Sequence[str] = ()) -> Task:
    """Create a pending task and append it to the backlog, in one transaction.

    Raises:
        InvalidInputError: The description is blank.
    """
    if not description.strip():
        raise InvalidInputError("Task description must not be empty")
    keys = town.channel.keys
    task = Task.new(description, utcnow(), tags=list(tags))
    pipe = town.redis.pipeline(transaction=True)
    queue_task_write(pipe, keys, task)
    pipe.cmd("RPUSH", keys.backlog, str(task.id))
    await pipe.execute()
    return task


async def list_backlog(town: Town) -> list[BacklogEntry]:
    """Every backlog entry in order, with its task (two round trips)."""
    ids = await town.channel.backlog_list()
    tasks = await town.channel.get_tasks(ids)
    return [BacklogEntry(tid, tasks.get(tid)) for tid in ids]


async def snapshot_for_agent(
    town: Town, agent_name: str, limit: int = SNAPSHOT_LIMIT
) -> BacklogSnapshot:
    """The backlog as seen by one agent (agent-loop.md §6)."""
    entries = await list_backlog(town)
    total = await town.channel.backlog_len()
    return backlog_snapshot(agent_name, [e.task for e in entries], total, limit)


def _not_in_backlog(tid: TaskId) -> NotFoundError:
    return NotFoundError(f"Task {tid} not found in backlog")


async def claim(town: Town, task_id: str, agent_ref: str) -> Assignment:
    """Take one task out of the backlog and assign it to an agent.

    The agent is resolved first; removal, task update and message happen in
    one transaction, so any failure leaves the backlog unchanged.

    Raises:
        InvalidInputError: ``task_id`` is not a UUID.
        AgentNotFoundError: No agent matches ``agent_ref``.
        NotFoundError: The task is not in the backlog.
        TaskNotFoundError: It is, but its record is missing.
        InvalidStateError: The task has ended (its entry is removed, the task untouched).
    """
    tid = await resolve_task_id(town, task_id)
    agent_id, agent = await town.resolve(agent_ref)
    keys = town.channel.keys
    task_key = keys.task(tid)
    now = utcnow()

    async def body(tx: Transaction) -> Task:
        if await tx.execute("LPOS", keys.backlog, str(tid)) is None:
            raise _not_in_backlog(tid)
        fields = pairs_to_dict(await tx.execute("HGETALL", task_key))
        if not fields:
            raise TaskNotFoundError(str(tid))
        task = task_from_hash(fields, task_key)
        pipe = tx.pipeline(transaction=True)
        pipe.cmd("LREM", keys.backlog, 1, str(tid))
        if not task.is_terminal:  # an ended task is never reopened: its entry is just stale
            task = task.assigned(agent_id, now)
            queue_assignment(pipe, keys, task)
        await pipe.execute()
        return task

    task = await run_watched(town.redis, [keys.backlog, task_key], body)
    if task.is_terminal:
        raise InvalidStateError(
            f"Task {tid} has already ended ({task.state.label}); "
            "its stale backlog entry was removed"
        )
    await town.channel.emit(assigned_event(task, agent_id, now))
    return Assignment(task=task, agent_id=agent_id, agent=agent)


async def assign_all(town: Town, agent_ref: str) -> list[Task]:
    """Assign every backlog task to one agent, atomically; entries without a record are dropped.

    Costs a constant number of round trips whatever the size of the backlog.

    Raises:
        AgentNotFoundError: No agent matches ``agent_ref`` (the backlog is untouched).
    """
    agent_id, _agent = await town.resolve(agent_ref)
    keys = town.channel.keys
    now = utcnow()

    async def body(tx: Transaction) -> list[Task]:
        raw: list[str] = await tx.execute("LRANGE", keys.backlog, 0, -1)
        if not raw:
            return []
        ids: list[TaskId] = []
        for item in raw:
            try:
                ids.append(TaskId.parse(item))
            except InvalidInputError:
                continue
        task_keys = [keys.task(tid) for tid in ids]
        found: list[Task] = []
        if task_keys:
            await tx.execute("WATCH", *task_keys)
            reads = tx.pipeline(transaction=False)
            for key in task_keys:
                reads.cmd("HGETALL", key)
            for key, reply in zip(task_keys, await reads.execute(), strict=True):
                fields = pairs_to_dict(reply)
                if fields:
                    task = task_from_hash(fields, key)
                    if not task.is_terminal:  # ended: the stale entry is dropped, not reopened
                        found.append(task.assigned(agent_id, now))
        pipe = tx.pipeline(transaction=True)
        pipe.cmd("LTRIM", keys.backlog, len(raw), -1)
        for task in found:
            queue_assignment(pipe, keys, task)
        await pipe.execute()
        return found

    tasks = await run_watched(town.redis, [keys.backlog], body)
    if tasks:
        text = f"Assigned {len(tasks)} task(s) from backlog"
        await town.channel.emit(assigned_event(tasks[0], agent_id, now, text))
    return tasks


async def remove(town: Town, task_id: str) -> TaskId:
    """Remove a task from the backlog and delete its record.

    Raises:
        InvalidInputError: ``task_id`` is not a UUID.
        NotFoundError: The task is not in the backlog (nothing is deleted).
    """
    tid = await resolve_task_id(town, task_id)
    keys = town.channel.keys
    removed = await REMOVE_BACKLOG_TASK(town.redis, [keys.backlog, keys.task(tid)], [str(tid)])
    if not removed:
        raise _not_in_backlog(tid)
    return tid
