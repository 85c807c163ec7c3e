"""Reclaiming work from dead agents (``tt reclaim``, cli.md §6.2), inbox mode.

A *dead* agent is Stopped, Error or Cold. Its queued messages (urgent queue
and inbox) can be previewed, moved to the backlog or moved to another agent.

* The preview (:func:`scan_dead_inboxes`) only reads: unlike 0.10, whose
  preview popped and discarded the messages, it changes nothing.
* Every move is one Lua script per message that removes that exact message
  from the dead agent's queue and pushes its replacement, so a message is
  never both lost and never in two places; all scripts of one reclaim travel
  in a single pipeline.
* A moved ``task_assign`` also fixes its task record: back to Pending and
  unassigned for the backlog, assigned to the new agent for ``--to``.

Orphan-task mode (``--orphan-tasks``) lives in :mod:`tinytown.services.orphan_tasks`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from tinytown.channel import decode_messages, reply_or
from tinytown.codec import field_text, message_to_json
from tinytown.errors import AgentNotFoundError, InvalidInputError, InvalidStateError
from tinytown.models import Agent, AgentId, Message, MessageType, Task, TaskId
from tinytown.models.message import assigned_task_id
from tinytown.scripts import ASSIGN_IF_OPEN, MOVE_ENTRY, RECLAIM_TO_BACKLOG
from tinytown.town import Town, utcnow


class ItemKind(enum.Enum):
    """What a queued message means for reclaim."""

    TASK_ID = "task_id"  # task_assign with a UUID task id
    TASK_TEXT = "task"  # a free-text task message
    OTHER = "other"  # anything else: moved only with --to
    SKIP = "skip"  # task_assign with a malformed id: left alone, not counted

    @property
    def is_task(self) -> bool:
        return self in (ItemKind.TASK_ID, ItemKind.TASK_TEXT)


@attrs.frozen
class QueuedItem:
    """One message in a dead agent's queue.

    Attributes:
        raw: The message exactly as stored (used to remove that very entry).
        urgent: It sits in the urgent queue rather than the inbox.
        message: The decoded message.
        kind: What reclaim does with it.
        task_id: The task of a ``task_assign``.
        description: The text of a free-text ``task`` message.
    """

    raw: str
    urgent: bool
    message: Message
    kind: ItemKind
    task_id: TaskId | None = None
    description: str | None = None


@attrs.frozen
class DeadInbox:
    """A dead agent and everything queued for it (urgent queue first)."""

    agent: Agent
    items: list[QueuedItem]
    undecodable: int = 0

    @property
    def tasks(self) -> list[QueuedItem]:
        return [i for i in self.items if i.kind.is_task]

    @property
    def message_count(self) -> int:
        return len(self.items) + self.undecodable


@attrs.frozen
class Moved:
    """The fate of one task message in a move.

    Attributes:
        item: The message.
        task_id: The task pushed to the backlog (a new one for free text), or
            the assigned task moved to another agent; None for free text moved
            to an agent.
        done: False when the message had left the queue before the move.
        ended: its task had already ended (completed, failed, cancelled): the
            stale message was removed from the queue and nothing was requeued.
    """

    item: QueuedItem
    task_id: TaskId | None
    done: bool
    ended: bool = False

    @property
    def moved(self) -> bool:
        """The message was moved (not dropped as stale, not already gone)."""
        return self.done and not self.ended


def classify_item(raw: str, message: Message, *, urgent: bool) -> QueuedItem:
    """Pure: how reclaim treats one queued message."""
    kind = message.kind
    if isinstance(kind, MessageType.TaskAssign):
        tid = assigned_task_id(kind)
        if tid is None:
            return QueuedItem(raw, urgent, message, ItemKind.SKIP)
        return QueuedItem(raw, urgent, message, ItemKind.TASK_ID, task_id=tid)
    if isinstance(kind, MessageType.Task):
        return QueuedItem(raw, urgent, message, ItemKind.TASK_TEXT, description=kind.description)
    return QueuedItem(raw, urgent, message, ItemKind.OTHER)


def select_dead(agents: Sequence[Agent], from_name: str | None) -> list[Agent]:
    """Pure: the dead agents, optionally only those named exactly ``from_name``.

    Raises:
        AgentNotFoundError: no agent has that exact name.
        InvalidStateError: agents have that name but none is dead.
    """
    if from_name is None:
        return [a for a in agents if a.state.is_terminal]
    named = [a for a in agents if a.name == from_name]
    if not named:
        raise AgentNotFoundError(from_name)
    dead = [a for a in named if a.state.is_terminal]
    if not dead:
        states = ", ".join(a.state.label for a in named)
        raise InvalidStateError(
            f"Agent '{from_name}' is not in a terminal state ({states}); "
            f"stop it first with 'tt kill {from_name}'"
        )
    return dead


async def scan_dead_inboxes(town: Town, from_name: str | None = None) -> list[DeadInbox]:
    """Read-only: every dead agent with its queued messages (3 round trips).

    Raises:
        AgentNotFoundError: ``from_name`` names no agent.
        InvalidStateError: ``from_name`` names only live agents.
    """
    return await read_inboxes(town, select_dead(await town.channel.list_agents(), from_name))


async def live_target(town: Town, ref: str) -> AgentId:
    """The agent ``--to``/``to`` names, refused when dead: work moved there would be stranded.

    Raises:
        AgentNotFoundError: ``ref`` names no agent.
        InvalidStateError: it names a dead (terminal) agent.
    """
    target, rec = await town.resolve(ref)
    if rec is not None and rec.state.is_terminal:
        raise InvalidStateError(
            f"Agent '{ref}' is {rec.state.label}; reclaim --to needs a live agent"
        )
    return target


async def reclaim(
    town: Town, *, to_backlog: bool, to: str | None, from_name: str | None
) -> tuple[int, str]:
    """``POST /v1/reclaim`` and the MCP tool ``recovery.reclaim_tasks`` (one semantics).

    ``to`` is resolved first, even with ``to_backlog`` (townhall.md §5). Returns the
    task messages reclaimed (a stale message of an ended task is dropped, not counted)
    and the destination as 0.10 renders it: ``Backlog``, ``Agent("<to>")``, or
    ``Listed`` when nothing was asked for (the tasks are only counted).
    """
    target = await live_target(town, to) if to is not None else None
    dead = await scan_dead_inboxes(town, from_name)
    if to_backlog:
        moves = await reclaim_to_backlog(town, dead)
        destination = "Backlog"
    elif target is not None:
        moves = await reclaim_to_agent(town, dead, target)
        destination = f'Agent("{to}")'
    else:
        return sum(len(box.tasks) for box in dead), "Listed"
    return sum(1 for per_agent in moves for m in per_agent if m.moved), destination


async def read_inboxes(town: Town, dead: Sequence[Agent]) -> list[DeadInbox]:
    """Read-only: ``dead`` with their queued messages, classified (one round trip).

    A queue key of the wrong type is reported (a warning) and read as empty.
    """
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    for agent in dead:
        pipe.cmd("LRANGE", keys.urgent(agent.id), 0, -1)
        pipe.cmd("LRANGE", keys.inbox(agent.id), 0, -1)
    replies = await pipe.execute(raise_on_error=False) if dead else []
    out = []
    for i, agent in enumerate(dead):
        items: list[QueuedItem] = []
        bad = 0
        urgent_raws = reply_or(replies[2 * i], keys.urgent(agent.id), [])
        inbox_raws = reply_or(replies[2 * i + 1], keys.inbox(agent.id), [])
        for urgent, raws in ((True, urgent_raws), (False, inbox_raws)):
            for raw in raws:
                decoded = decode_messages([raw], keys.inbox(agent.id))
                if decoded:
                    items.append(classify_item(raw, decoded[0], urgent=urgent))
                else:
                    bad += 1
        out.append(DeadInbox(agent, items, bad))
    return out


async def reclaim_to_backlog(town: Town, dead: Sequence[DeadInbox]) -> list[list[Moved]]:
    """Move every task message of ``dead`` to the backlog; other messages stay.

    A ``task_assign`` pushes its task id (not twice if it is already in the
    backlog) and its live task record becomes Pending and unassigned; a
    free-text ``task`` becomes a new Pending task. Returns the moves per agent.
    """
    now = utcnow()
    keys = town.channel.keys
    new_tasks: list[Task] = []
    plan: list[tuple[DeadInbox, QueuedItem, TaskId]] = []
    for box in dead:
        for item in box.tasks:
            if item.kind is ItemKind.TASK_ID:
                assert item.task_id is not None
                plan.append((box, item, item.task_id))
            else:
                task = Task.new(item.description or "", now)
                new_tasks.append(task)
                plan.append((box, item, task.id))
    await town.channel.set_tasks(new_tasks)
    pipe = town.redis.pipeline()
    stamp = field_text(now)
    for box, item, tid in plan:
        src = keys.urgent(box.agent.id) if item.urgent else keys.inbox(box.agent.id)
        RECLAIM_TO_BACKLOG.queue(pipe, [src, keys.backlog, keys.task(tid)],
                                 [item.raw, str(tid), stamp])
    replies = [int(r) for r in await pipe.execute()] if plan else []
    # Free-text tasks whose message vanished meanwhile must not linger as records.
    for (_, item, tid), reply in zip(plan, replies, strict=True):
        if reply == 0 and item.kind is ItemKind.TASK_TEXT:
            await town.channel.delete_task(tid)
    results = [r != 0 for r in replies]
    ended = [r == 2 for r in replies]
    return _group(dead, plan, results, keep_ids=True, ended=ended)


async def reclaim_to_agent(
    town: Town, dead: Sequence[DeadInbox], target: AgentId
) -> list[list[Moved]]:
    """Move every message of ``dead`` to ``target``'s queues (urgent stays urgent).

    Messages keep their id and priority; the task of a moved ``task_assign``
    is assigned to ``target`` unless it has ended. Returns the task moves per agent.

    Raises:
        InvalidInputError: ``target`` is one of the dead agents.
    """
    if any(box.agent.id == target for box in dead):
        raise InvalidInputError("Cannot reclaim an agent's work to itself")
    now = utcnow()
    keys = town.channel.keys
    plan: list[tuple[DeadInbox, QueuedItem, TaskId | None]] = []
    pipe = town.redis.pipeline()
    for box in dead:
        # Urgent queue is LIFO (LPUSH/LPOP): push its items back to front to keep their order.
        urgent = [i for i in box.items if i.urgent][::-1]
        normal = [i for i in box.items if not i.urgent]
        for item in [*urgent, *normal]:
            if item.kind is ItemKind.SKIP:
                continue
            copy = message_to_json(attrs.evolve(item.message, to=target))
            if item.urgent:
                src, dst, side = keys.urgent(box.agent.id), keys.urgent(target), "L"
            else:
                src, dst = keys.inbox(box.agent.id), keys.inbox(target)
                side = "L" if item.message.priority.jumps_queue else "R"
            MOVE_ENTRY.queue(pipe, [src, dst], [item.raw, copy, side, "0"])
            plan.append((box, item, item.task_id))
    results = [bool(r) for r in await pipe.execute()] if plan else []
    moved_ids = [
        tid for (_, _, tid), done in zip(plan, results, strict=True) if done and tid is not None
    ]
    if moved_ids:  # an ended task is never reopened: the check is in the script
        assign = town.redis.pipeline()
        for tid in moved_ids:
            ASSIGN_IF_OPEN.queue(assign, [keys.task(tid)], [str(target), field_text(now)])
        await assign.execute()
    return _group(dead, plan, results, keep_ids=False)


def _group(
    dead: Sequence[DeadInbox],
    plan: Sequence[tuple[DeadInbox, QueuedItem, TaskId | None]],
    results: Sequence[bool],
    *,
    keep_ids: bool,
    ended: Sequence[bool] | None = None,
) -> list[list[Moved]]:
    per_agent: dict[AgentId, list[Moved]] = {box.agent.id: [] for box in dead}
    ends = ended if ended is not None else [False] * len(plan)
    for (box, item, tid), done, end in zip(plan, results, ends, strict=True):
        if item.kind.is_task:
            shown = tid if keep_ids or item.kind is ItemKind.TASK_ID else None
            per_agent[box.agent.id].append(Moved(item, shown, done, end))
    return [per_agent[box.agent.id] for box in dead]


