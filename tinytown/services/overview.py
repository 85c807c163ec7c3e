"""The agent overview of the REST API: each agent, its queue sizes and current scope.

Three round trips whatever the number of agents: the records, the queue
lengths, the current tasks' records.
"""

from __future__ import annotations

import attrs

from tinytown.models import Agent
from tinytown.town import Town


@attrs.frozen
class AgentOverview:
    """An agent with its inbox/urgent lengths and its current task's description."""

    agent: Agent
    inbox: int
    urgent: int
    current_scope: str | None


async def agent_overview(town: Town) -> list[AgentOverview]:
    """Every agent (oldest first) with queue sizes and ``current_scope``."""
    agents = await town.channel.list_agents()
    if not agents:
        return []
    sizes = await town.channel.pending_counts([a.id for a in agents])
    current = [a.current_task for a in agents if a.current_task is not None]
    tasks = await town.channel.get_tasks(current)
    rows = []
    for a in agents:
        task = tasks.get(a.current_task) if a.current_task is not None else None
        inbox, urgent = sizes[a.id]
        rows.append(AgentOverview(a, int(inbox), int(urgent), task.description if task else None))
    return rows
