"""Mission tasks: the tags binding a task to a work item (missions.md §6.1), and creating them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs

from tinytown.models import AgentId, Task
from tinytown.models.mission import MissionId, WatchId, WorkItemId
from tinytown.services._txn import assigned_event, queue_assignment

if TYPE_CHECKING:
    from tinytown.town import Town

WORK_TAG: Final = "mission-work-item"
FIX_TAG: Final = "mission-fix-task"
REVIEW_TAG: Final = "mission-review-task"


class TaskKind(enum.Enum):
    """A mission task's part; the value ranks it when several are live (work > fix > review)."""

    REVIEW = 1
    FIX = 2
    WORK = 3

    @property
    def tag(self) -> str:
        return {TaskKind.WORK: WORK_TAG, TaskKind.FIX: FIX_TAG, TaskKind.REVIEW: REVIEW_TAG}[self]

    @property
    def info_tag(self) -> str:
        return f"mission-task:{self.name.lower()}"


@attrs.frozen
class Binding:
    mission_id: MissionId
    work_item_id: WorkItemId
    kind: TaskKind | None


def binding_of(task: Task) -> Binding | None:
    """The work item a task is bound to (``kind`` None when it has no kind tag), else None."""
    mission = item = None
    tags = set(task.tags)
    for tag in task.tags:
        head, sep, value = tag.partition(":")
        if not sep:
            continue
        try:
            if head == "mission" and mission is None:
                mission = MissionId.parse(value)
            elif head == "work-item" and item is None:
                item = WorkItemId.parse(value)
        except Exception:
            continue
    if mission is None or item is None:
        return None
    kind = next((k for k in (TaskKind.REVIEW, TaskKind.FIX, TaskKind.WORK) if k.tag in tags), None)
    return Binding(mission, item, kind)


def mission_tags(kind: TaskKind, mission_id: MissionId, item_id: WorkItemId,
                 *, watch_id: WatchId | None = None) -> list[str]:
    tags = [kind.tag]
    if watch_id is None:
        tags.append(kind.info_tag)
    tags += [f"mission:{mission_id}", f"work-item:{item_id}"]
    if watch_id is not None:
        tags.append(f"watch:{watch_id}")
    return tags


def live_bound(tasks: Sequence[Task], mission_id: MissionId, item_id: WorkItemId,
               kind: TaskKind | None = None) -> list[Task]:
    """Non-terminal tasks bound to one work item (with a kind tag; of ``kind`` if given)."""
    out = []
    for task in tasks:
        if task.is_terminal:
            continue
        b = binding_of(task)
        if b is None or b.kind is None or b.mission_id != mission_id or b.work_item_id != item_id:
            continue
        if kind is None or b.kind is kind:
            out.append(task)
    return out


async def create_task(town: Town, agent_id: AgentId, description: str, tags: list[str],
                      now: datetime) -> Task:
    """Store an assigned task and queue its ``task_assign`` message, in one transaction."""
    task = Task.new(description, now, tags=tags).assigned(agent_id, now)
    pipe = town.redis.pipeline(transaction=True)
    queue_assignment(pipe, town.channel.keys, task)
    await pipe.execute()
    await town.channel.emit(assigned_event(task, agent_id, now))
    return task
