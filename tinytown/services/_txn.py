"""Building blocks shared by the task services: optimistic transactions and assignments.

Writes that must not be half-done (a task stored but its message not sent, a
backlog entry removed but its task not assigned) are queued on one
``MULTI``/``EXEC`` pipeline, so they happen together or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

from tinytown.codec import message_to_json, queue_hash_write, task_to_hash
from tinytown.errors import InvalidInputError, InvalidStateError, TaskNotFoundError, WatchError
from tinytown.keys import Keys
from tinytown.models import (
    SUPERVISOR,
    AgentId,
    Event,
    EventType,
    Message,
    MessageType,
    Task,
    TaskId,
)
from tinytown.redis.client import Redis
from tinytown.redis.pipeline import Pipeline, Transaction

if TYPE_CHECKING:
    from tinytown.town import Town

T = TypeVar("T")

WATCH_ATTEMPTS: Final = 20
EVENT_TEXT_LEN: Final = 80


async def run_watched(
    redis: Redis, keys: Sequence[str], body: Callable[[Transaction], Awaitable[T]]
) -> T:
    """Run ``body`` under ``WATCH keys``, retrying while a watched key changes under it.

    ``body`` reads with ``tx.execute`` and ends with one
    ``tx.pipeline(transaction=True)`` write.

    Raises:
        InvalidStateError: The keys kept changing for ``WATCH_ATTEMPTS`` tries.
    """
    for _ in range(WATCH_ATTEMPTS):
        try:
            async with redis.watch(*keys) as tx:
                return await body(tx)
        except WatchError:
            continue
    raise InvalidStateError(f"Gave up after {WATCH_ATTEMPTS} concurrent updates of {keys[0]}")


_SHORT_ID = re.compile(r"[0-9a-f]{1,8}(-[0-9a-f]{0,4}){0,4}[0-9a-f]*")


def parse_task_id(text: str) -> TaskId:
    """Parse a task id argument; InvalidInputError with a one-line message if it is not a UUID."""
    try:
        return TaskId.parse(text)
    except InvalidInputError:
        raise InvalidInputError(f"Invalid task ID: {text.strip()!r} is not a UUID") from None


SHORT_TASK_ID_MIN = 4
_SHOWN_MATCHES = 5


async def resolve_task_id(town: Town, text: str) -> TaskId:
    """A task id argument: a full UUID, or a unique prefix of one as ``tt task list`` shows.

    ``0700b405``, ``0700b405-...`` and ``0700`` resolve when exactly one task id starts
    with them (one KEYS round trip).

    Raises:
        InvalidInputError: neither a UUID nor a hex prefix, or an ambiguous prefix.
        TaskNotFoundError: a prefix no task id starts with.
    """
    try:
        return parse_task_id(text)
    except InvalidInputError:
        prefix = text.strip().removesuffix("...").rstrip("-").lower()
        if len(prefix) < SHORT_TASK_ID_MIN or not _SHORT_ID.fullmatch(prefix):
            raise
    keys = town.channel.keys
    found: list[str] = await town.redis.execute("KEYS", keys.prefix_pattern("task", prefix))
    ids = sorted(keys.id_from_key(k, "task") for k in found)
    if not ids:
        raise TaskNotFoundError(text.strip())
    if len(ids) > 1:
        shown = ", ".join(ids[:_SHOWN_MATCHES]) + (", ..." if len(ids) > _SHOWN_MATCHES else "")
        raise InvalidInputError(f"Task id prefix {prefix!r} is ambiguous: {shown}")
    return parse_task_id(ids[0])


def queue_task_write(pipe: Pipeline, keys: Keys, task: Task) -> None:
    """Queue the commands that store ``task`` as a hash (as RecordStore.set_task does)."""
    queue_hash_write(pipe, keys.task(task.id), *task_to_hash(task))


def queue_assignment(pipe: Pipeline, keys: Keys, task: Task) -> Message:
    """Queue storing an assigned task and its ``task_assign`` message (normal priority, RPUSH)."""
    if task.assigned_to is None:
        raise ValueError("queue_assignment needs an assigned task")
    queue_task_write(pipe, keys, task)
    message = Message(
        from_=SUPERVISOR,
        to=task.assigned_to,
        kind=MessageType.TaskAssign(task_id=str(task.id)),
    )
    pipe.cmd("RPUSH", keys.inbox(task.assigned_to), message_to_json(message))
    return message


def assigned_event(task: Task, to: AgentId, now: datetime, text: str | None = None) -> Event:
    """The ``task_assigned`` event for one assignment (or a batch, with ``text``)."""
    first = task.description.splitlines()[0] if task.description else ""
    return Event(
        event_type=EventType.TASK_ASSIGNED,
        message=text or f"Task assigned: {first[:EVENT_TEXT_LEN]}",
        timestamp=now,
        agent_id=None if to.is_supervisor else to,
        task_id=None if text else str(task.id),
    )

