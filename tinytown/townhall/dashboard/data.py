"""What the dashboard shows, read through the services in a bounded number of round trips."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from tinytown.models import Task, TaskId
from tinytown.models.mission import MissionRun, WatchItem, WorkItem
from tinytown.runtime.attention import attention
from tinytown.services import backlog as backlog_service
from tinytown.services import events as event_service
from tinytown.services import missions as mission_service
from tinytown.services import status as status_service
from tinytown.services.attention_rank import Entry
from tinytown.services.events import StreamEntry
from tinytown.services.status import AgentStatus, TaskCounts, TaskGroup
from tinytown.town import Town, utcnow

EVENTS_SHOWN: Final = 30
BACKLOG_SHOWN: Final = 20
MISSIONS_SHOWN: Final = 10


@attrs.frozen
class MissionView:
    mission: MissionRun
    items: list[WorkItem]
    watches: list[WatchItem]


@attrs.frozen
class Page:
    """Everything on the dashboard, as data (the templates only lay it out)."""

    town: str
    redis: str
    now: datetime
    agents: list[AgentStatus]
    current: dict[TaskId, Task]
    counts: TaskCounts
    groups: list[TaskGroup]
    backlog: list[backlog_service.BacklogEntry]
    backlog_total: int
    attention: list[Entry]
    missions: list[MissionView]
    events: list[StreamEntry]


async def missions(town: Town) -> list[MissionView]:
    views = []
    for mission in (await mission_service.list_missions(town))[:MISSIONS_SHOWN]:
        state = await mission_service.status(town, mission.id, events=0)
        views.append(MissionView(mission, state.items, state.watches))
    return views


async def gather(town: Town) -> Page:
    """Read the whole page."""
    report = await status_service.status(town, deep=True, tasks=True)
    current_ids = [r.agent.current_task for r in report.agents if r.agent.current_task]
    current = await town.channel.get_tasks(current_ids) if current_ids else {}
    backlog = await backlog_service.list_backlog(town)
    history = await event_service.history(town, EVENTS_SHOWN)
    return Page(
        town=report.town,
        redis=report.redis,
        now=utcnow(),
        agents=report.agents,
        current=current,
        counts=report.tasks,
        groups=report.groups,
        backlog=backlog[:BACKLOG_SHOWN],
        backlog_total=len(backlog),
        attention=await attention(town),
        missions=await missions(town),
        events=list(reversed(history.entries)),
    )
