"""Reads shared by tools, resources and prompts (constant round trips whatever the size)."""

from __future__ import annotations

from typing import Any

from tinytown.mcp.views import agent_brief, agent_full, backlog_item
from tinytown.models import TaskId
from tinytown.services import agents as agent_svc
from tinytown.services import backlog as backlog_svc
from tinytown.services.agents import AgentRow
from tinytown.town import Town


async def agent_rows(town: Town) -> tuple[list[AgentRow], dict[TaskId, str]]:
    """Every agent with its queue sizes, and the descriptions of their current tasks."""
    rows = await agent_svc.list_agents(town)
    wanted = [r.agent.current_task for r in rows if r.agent.current_task is not None]
    tasks = await town.channel.get_tasks(wanted) if wanted else {}
    return rows, {tid: t.description for tid, t in tasks.items()}


async def agents_full(town: Town) -> list[dict[str, Any]]:
    rows, scopes = await agent_rows(town)
    return [agent_full(r, scopes) for r in rows]


async def agents_brief(town: Town) -> list[dict[str, Any]]:
    return [agent_brief(r) for r in await agent_svc.list_agents(town)]


def town_header(town: Town) -> dict[str, Any]:
    return {"name": town.name, "root": str(town.root), "redis_url": town.target.redacted}


async def backlog_items(town: Town) -> list[dict[str, Any]]:
    return [backlog_item(e) for e in await backlog_svc.list_backlog(town)]
