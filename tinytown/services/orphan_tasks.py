"""Orphan tasks: live tasks whose assignee is gone or dead (``tt reclaim --orphan-tasks``).

An orphan is a task that is not terminal, has ``assigned_to``, and whose
assignee has no record (*assignee missing*) or is Stopped, Error or Cold
(*assignee terminal*). Tasks of the supervisor mailbox are never orphans.
Actions re-read the tasks under ``WATCH`` and apply every change in one
``MULTI``/``EXEC``, so a task completed meanwhile is left alone.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from tinytown.codec import pairs_to_dict, task_from_hash
from tinytown.errors import AgentNotFoundError, InvalidInputError, RedisError
from tinytown.models import Agent, AgentId, Task
from tinytown.redis.pipeline import Transaction
from tinytown.services._txn import assigned_event, queue_assignment, queue_task_write, run_watched
from tinytown.town import Town, utcnow

log = logging.getLogger("tinytown")


class OrphanReason(enum.Enum):
    MISSING = "assignee missing"
    TERMINAL = "assignee terminal"

    @property
    def cancel_text(self) -> str:
        """The result written on a task cancelled for this reason."""
        if self is OrphanReason.MISSING:
            return "Cancelled: assignee no longer exists"
        return "Cancelled: assignee is in a terminal state"


class OrphanAction(enum.Enum):
    BACKLOG = "backlog"
    CANCEL = "cancel"
    DELETE = "delete"
    ASSIGN = "assign"


@attrs.frozen
class OrphanTask:
    """A task whose assignee cannot work on it."""

    task: Task
    reason: OrphanReason
    assignee: Agent | None


def find_orphan_tasks(tasks: Iterable[Task], agents: Iterable[Agent]) -> list[OrphanTask]:
    """Pure: the live tasks assigned to a missing or terminal agent, in the order given."""
    by_id = {a.id: a for a in agents}
    out = []
    for task in tasks:
        aid = task.assigned_to
        if task.is_terminal or aid is None or aid.is_supervisor:
            continue
        agent = by_id.get(aid)
        if agent is None:
            out.append(OrphanTask(task, OrphanReason.MISSING, None))
        elif agent.state.is_terminal:
            out.append(OrphanTask(task, OrphanReason.TERMINAL, agent))
    return out


async def scan_orphan_tasks(town: Town, from_name: str | None = None) -> list[OrphanTask]:
    """Read-only: the orphan tasks, optionally only those of agents named exactly ``from_name``.

    Raises:
        AgentNotFoundError: no agent has the name ``from_name``.
    """
    agents = await town.channel.list_agents()
    orphans = find_orphan_tasks(await town.channel.list_tasks(), agents)
    if from_name is None:
        return orphans
    if not any(a.name == from_name for a in agents):
        raise AgentNotFoundError(from_name)
    return [o for o in orphans if o.assignee is not None and o.assignee.name == from_name]


async def act_on_orphan_tasks(
    town: Town,
    orphans: Sequence[OrphanTask],
    action: OrphanAction,
    *,
    target: AgentId | None = None,
    now: datetime | None = None,
) -> list[OrphanTask]:
    """Requeue, cancel, delete or reassign orphan tasks; returns those still orphaned and acted on.

    Args:
        town: The connected town.
        orphans: From :func:`scan_orphan_tasks`.
        action: What to do. ``BACKLOG`` makes each task Pending and unassigned
            and appends it to the backlog unless it is already there.
            ``ASSIGN`` assigns each to ``target`` and sends it a ``task_assign``.
        target: The agent for ``ASSIGN``.
        now: The time written on the tasks.

    Raises:
        InvalidInputError: ``ASSIGN`` without a target.
        InvalidStateError: the tasks kept changing under the transaction.
    """
    if action is OrphanAction.ASSIGN and target is None:
        raise InvalidInputError("Assigning orphan tasks needs a target agent")
    if not orphans:
        return []
    when = now or utcnow()
    keys = town.channel.keys
    agents = [o.assignee for o in orphans if o.assignee is not None]
    watched = [keys.task(o.task.id) for o in orphans]
    if action is OrphanAction.BACKLOG:
        watched.append(keys.backlog)

    async def body(tx: Transaction) -> list[OrphanTask]:
        reader = tx.pipeline(transaction=False)
        for key in watched[: len(orphans)]:
            reader.cmd("HGETALL", key)
        if action is OrphanAction.BACKLOG:
            reader.cmd("LRANGE", keys.backlog, 0, -1)
        replies = await reader.execute()
        current = [
            task_from_hash(pairs_to_dict(r), key)
            for key, r in zip(watched, replies[: len(orphans)], strict=False)
            if r
        ]
        still = find_orphan_tasks(current, agents)
        wanted = {o.task.id for o in orphans}
        still = [o for o in still if o.task.id in wanted]
        in_backlog = set(replies[-1]) if action is OrphanAction.BACKLOG else set()
        pipe = tx.pipeline(transaction=True)
        for orphan in still:
            task = orphan.task
            if action is OrphanAction.BACKLOG:
                queue_task_write(pipe, keys, task.requeued(when))
                if str(task.id) not in in_backlog:
                    pipe.cmd("RPUSH", keys.backlog, str(task.id))
            elif action is OrphanAction.CANCEL:
                queue_task_write(pipe, keys, task.cancelled(orphan.reason.cancel_text, when))
            elif action is OrphanAction.DELETE:
                pipe.cmd("DEL", keys.task(task.id))
            else:
                assert target is not None
                queue_assignment(pipe, keys, task.assigned(target, when))
        await pipe.execute()
        return still

    done = await run_watched(town.redis, watched, body)
    if action is OrphanAction.ASSIGN and target is not None:
        for orphan in done:
            try:
                await town.channel.emit(assigned_event(orphan.task, target, when))
            except RedisError as exc:
                log.warning("could not record task_assigned event: %s", exc)
    return done
