"""Redirecting a work item to another agent (missions.md §7.2 "Redirect")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tinytown.mission.binding import TaskKind, create_task, live_bound, mission_tags
from tinytown.mission.store import MissionStore
from tinytown.models import Agent
from tinytown.models.mission import MissionRun, WorkItem

if TYPE_CHECKING:
    from tinytown.town import Town


def redirect_description(mission: MissionRun, item: WorkItem, agent: Agent,
                         reason: str | None) -> tuple[str, TaskKind]:
    intro, kind = (("[Mission Fix Redirect]", TaskKind.FIX) if item.artifact_refs
                   else ("[Mission Redirect]", TaskKind.WORK))
    correction = f"Operator correction: {reason}\n\n" if reason else ""
    refs = ("Latest artifacts/refs:\n" + "\n".join(f"- {a}" for a in item.artifact_refs)
            if item.artifact_refs else "No artifact refs recorded yet.")
    return (
        f"{intro} {item.title}\n\nMission: {mission.id}\nWork item: {item.id}\n"
        f"Assigned by dispatcher redirect to {agent.id}\n\n{correction}{refs}",
        kind,
    )


async def redirect_item(town: Town, mission: MissionRun, item: WorkItem, agent: Agent,
                        reason: str | None, now: datetime) -> bool:
    """Cancel the item's live tasks held by others, give the target one, rebind the item."""
    from tinytown.services.tasks import cancel

    store = MissionStore(town.channel)
    tasks = await town.channel.list_tasks()
    live = live_bound(tasks, mission.id, item.id)
    why = f"Superseded by dispatcher redirect to {agent.name}" + (f" ({reason})" if reason else "")
    cancelled = 0
    for task in live:
        if task.assigned_to != agent.id:
            await cancel(town, str(task.id), why, now=now)
            cancelled += 1
    if not any(t.assigned_to == agent.id for t in live):
        description, kind = redirect_description(mission, item, agent, reason)
        await create_task(town, agent.id, description, mission_tags(kind, mission.id, item.id),
                          now)
    await store.save_work_items([item.assigned(agent.id, now)])
    text = f"Redirected work item '{item.title}' to '{agent.name}'"
    if cancelled:
        text += f"; cancelled {cancelled} superseded mission task(s)"
    if reason:
        text += f" ({reason})"
    await store.log(mission.id, text, now)
    return True
