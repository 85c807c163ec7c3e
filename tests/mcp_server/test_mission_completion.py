"""MCP ``task.complete`` feeds mission work items like ``tt task complete`` (0.10's did not)."""

from __future__ import annotations

from mcp import Client

from tinytown.mission.binding import WORK_TAG
from tinytown.mission.store import MissionStore
from tinytown.models import AgentState
from tinytown.models.mission import MissionId, MissionState, WorkStatus
from tinytown.services import missions as svc
from tinytown.services.registration import register_agent
from tinytown.town import Town

from .conftest import ok


async def test_task_complete_tool_finishes_the_work_item_and_the_mission(
    client: Client, town: Town
) -> None:
    agent = await register_agent(town, "writer", "demo")
    await town.channel.set_agent_state(agent.id, AgentState.IDLE)
    started = await ok(client, "mission.start", docs=["docs/plan.md"], no_reviewer=True)
    mid = MissionId.parse(started["mission"]["id"])
    (task,) = [t for t in await town.channel.list_tasks() if WORK_TAG in t.tags]
    assert task.assigned_to == agent.id
    await ok(client, "task.complete", task_id=str(task.id), result="plan written")
    (item,) = await MissionStore(town.channel).list_work_items(mid)
    assert item.status is WorkStatus.DONE
    assert f"task:{task.id}" in item.artifact_refs
    assert (await svc.require(town, mid)).state is MissionState.COMPLETED
