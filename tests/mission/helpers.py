"""Building missions directly in Redis for scheduler/dispatcher tests."""

from __future__ import annotations

from datetime import datetime

import attrs

from tinytown.mission.store import MissionStore
from tinytown.models import AgentId, MessageType, Task
from tinytown.models.mission import (
    DocRef,
    MissionPolicy,
    MissionRun,
    WorkItem,
    WorkKind,
    WorkStatus,
)
from tinytown.town import Town


async def make_mission(town: Town, now: datetime, *items: tuple[str, WorkKind, str | None],
                       policy: MissionPolicy | None = None,
                       status: WorkStatus = WorkStatus.READY) -> tuple[MissionRun, list[WorkItem]]:
    """A running, active mission whose items (title, kind, owner role) all have ``status``."""
    mission = MissionRun.new([DocRef("plan.md")], now, policy).started(now)
    made = [
        attrs.evolve(WorkItem.new(mission.id, title, kind, now, owner_role=role), status=status)
        for title, kind, role in items
    ]
    store = MissionStore(town.channel)
    await store.save_mission(mission)
    await store.save_work_items(made)
    await store.activate(mission.id)
    return mission, made


async def inbox_task_ids(town: Town, agent_id: AgentId) -> list[str]:
    msgs = await town.channel.peek(agent_id)
    return [m.kind.task_id for m in msgs if isinstance(m.kind, MessageType.TaskAssign)]


async def tasks_tagged(town: Town, *tags: str) -> list[Task]:
    return [t for t in await town.channel.list_tasks() if set(tags) <= set(t.tags)]
