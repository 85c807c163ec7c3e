"""The read tools of mcp.md §3.1 but the mission ones: status, agents, inbox, pending, backlog."""

from __future__ import annotations

from typing import Any

from tinytown.errors import InvalidInputError
from tinytown.mcp.args import Args, req
from tinytown.mcp.gather import agents_full, backlog_items, town_header
from tinytown.mcp.spec import READ, ToolSpec, tool
from tinytown.mcp.views import inbox_message
from tinytown.models import MessageType, TaskId
from tinytown.services.inbox import sample_queues, task_descriptions
from tinytown.services.messages import INBOX_SAMPLE
from tinytown.town import Town

AGENT_ARG = req("agent", "string", "Agent name, nickname, short id, UUID or 'supervisor'")


@tool("town.get_status", "Get the town status: name, Redis, and every agent", READ, read_only=True)
async def get_status(town: Town, _args: Args) -> Any:
    agents = await agents_full(town)
    return {**town_header(town), "agent_count": len(agents), "agents": agents}


@tool("agent.list", "List all agents with their state and counters", READ, read_only=True)
async def list_agents(town: Town, _args: Args) -> Any:
    return await agents_full(town)


@tool(
    "agent.list_open",
    "List agents that are not Stopped, Error or Cold",
    READ,
    read_only=True,
)
async def list_open(town: Town, _args: Args) -> Any:
    return [a for a in await agents_full(town) if a["state"] not in ("Stopped", "Error", "Cold")]


@tool(
    "agent.inbox",
    "Peek at an agent's inbox (nothing is taken)",
    READ,
    AGENT_ARG,
    read_only=True,
)
async def inbox(town: Town, args: Args) -> Any:
    ref = args.text("agent")
    aid, _agent = await town.resolve(ref)
    (sample,) = await sample_queues(town, [aid], INBOX_SAMPLE)
    return {
        "agent": ref,
        "agent_id": str(aid),
        "total_messages": sample.length,
        "urgent_messages": sample.urgent,
        "messages": [inbox_message(m) for m in sample.messages],
    }


@tool(
    "task.list_pending",
    "Tasks waiting in agents' inboxes (assignments and free-text tasks)",
    READ,
    read_only=True,
)
async def list_pending(town: Town, _args: Args) -> Any:
    """Peek at every agent's regular inbox. A free-text task has no task record: its
    message id stands for it (0.10 invented a new random id on every call)."""
    agents = await town.channel.list_agents()
    samples = await sample_queues(town, [a.id for a in agents], INBOX_SAMPLE)
    wanted = [
        tid
        for sample in samples
        for m in sample.messages
        if isinstance(m.kind, MessageType.TaskAssign) and (tid := _parse(m.kind.task_id))
    ]
    descriptions = await task_descriptions(town, wanted) if wanted else {}
    out: list[dict[str, Any]] = []
    for agent, sample in zip(agents, samples, strict=True):
        for m in sample.messages:
            kind = m.kind
            if isinstance(kind, MessageType.TaskAssign):
                tid = _parse(kind.task_id)
                desc = descriptions.get(tid) if tid is not None else None
                if desc is None:
                    continue
                task_id, text = kind.task_id, desc
            elif isinstance(kind, MessageType.Task):
                task_id, text = str(m.id), kind.description
            else:
                continue
            out.append(
                {
                    "task_id": task_id,
                    "description": text,
                    "agent_id": str(agent.id),
                    "agent_name": agent.name,
                }
            )
    return out


def _parse(text: str) -> TaskId | None:
    try:
        return TaskId.parse(text)
    except InvalidInputError:
        return None


@tool("backlog.list", "List the backlog of unassigned tasks", READ, read_only=True)
async def list_backlog(town: Town, _args: Args) -> Any:
    return await backlog_items(town)


READ_TOOLS: tuple[ToolSpec, ...] = (
    get_status,
    list_agents,
    list_open,
    inbox,
    list_pending,
)
"""Read tools before the mission ones, in 0.10's registration order; ``backlog.list`` follows."""
BACKLOG_READ = list_backlog
