"""What of a taken batch reaches the model (decision 7: effectively-once work).

Before a round uses its batch, two kinds of message leave the processing list
without being shown to the model:

* **assignments of tasks that already ended** (completed, failed, cancelled):
  acknowledged and dropped — a redelivered batch never redoes finished work,
  and a cancelled task is never worked;
* **poison**: messages too large, not JSON, nested too deeply or with fields
  of the wrong type go to the agent's dead-letter list with the reason, where
  ``tt inbox`` and ``tt status --deep`` show them; the agent keeps working.

:func:`inspect_batch` is the pure part; :func:`take_in` applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs

from tinytown.codec import message_from_json
from tinytown.codec.deadletter import deadletter_to_json
from tinytown.errors import CorruptRecordError
from tinytown.models import Message, Task, TaskId
from tinytown.models.deadletter import DeadLetter
from tinytown.models.message import assigned_task_id
from tinytown.runtime.delivery import Delivery, InFlight

if TYPE_CHECKING:
    from tinytown.channel import Channel

MAX_MESSAGE_BYTES: Final = 1 << 20
"""A queued message larger than this (1 MiB) is poison: no prompt should carry it."""


@attrs.frozen
class Entry:
    """A readable message of the batch."""

    raw: str
    message: Message
    urgent: bool


@attrs.frozen
class Intake:
    """The batch as the round uses it.

    Attributes:
        entries: the readable messages still to handle, in batch order.
        tasks: the records of the tasks the entries assign (those that exist).
        dead: messages moved to the dead-letter list.
        dropped: assignments of ended tasks, acknowledged without a round.
    """

    entries: list[Entry]
    tasks: dict[TaskId, Task]
    dead: list[DeadLetter]
    dropped: int


def inspect_batch(batch: InFlight, where: str, now: datetime) -> tuple[list[Entry],
                                                                     list[DeadLetter]]:
    """Split a batch into readable entries and dead letters (pure)."""
    entries: list[Entry] = []
    dead: list[DeadLetter] = []
    for index, raw in enumerate(batch.raw):
        size = len(raw.encode("utf-8", "surrogatepass"))
        if size > MAX_MESSAGE_BYTES:
            dead.append(DeadLetter(
                f"message of {size} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit", now, raw))
            continue
        try:
            entries.append(Entry(raw, message_from_json(raw, where), index < batch.urgent))
        except CorruptRecordError as exc:
            dead.append(DeadLetter(exc.detail, now, raw))
    return entries, dead


def ended_assignments(entries: Sequence[Entry], tasks: dict[TaskId, Task]) -> list[Entry]:
    """The entries assigning a task that is completed, failed or cancelled (pure)."""
    out = []
    for entry in entries:
        tid = assigned_task_id(entry.message.kind)
        task = tasks.get(tid) if tid is not None else None
        if task is not None and task.is_terminal:
            out.append(entry)
    return out


async def take_in(delivery: Delivery, channel: Channel, batch: InFlight, now: datetime
                  ) -> Intake | None:
    """Set aside the poison and the ended assignments of ``batch``; ``None`` when superseded."""
    entries, dead = inspect_batch(batch, channel.keys.processing(delivery.agent_id), now)
    ids = [tid for tid in (assigned_task_id(e.message.kind) for e in entries) if tid is not None]
    tasks = await channel.get_tasks(ids)
    ended = ended_assignments(entries, tasks)
    if dead or ended:
        pairs = [(d.message, deadletter_to_json(d)) for d in dead]
        pairs += [(e.raw, "") for e in ended]
        if await delivery.discard(pairs) is None:
            return None
        gone = {id(e) for e in ended}
        entries = [e for e in entries if id(e) not in gone]
    return Intake(entries, tasks, dead, len(ended))
