"""The agent-management group of tools (mcp.md §3.3): lifecycle, results, recovery.

Unlike 0.10, whose ``agent.spawn``/``agent.restart`` only wrote a record that
nothing ran, these do what ``tt spawn``/``tt restart`` do: the agent is
registered (or revived) and this host's runtime is asked to run it, so an
agent spawned through MCP actually works. The model CLI must be installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tinytown.errors import AgentNotFoundError, InvalidInputError
from tinytown.mcp.args import Args, opt, req
from tinytown.mcp.spec import MANAGE, ToolSpec, tool
from tinytown.mcp.tools_read import AGENT_ARG
from tinytown.mcp.views import rust_timestamp
from tinytown.models import AgentId, TaskState
from tinytown.services import agents as agent_svc
from tinytown.services import reclaim as reclaim_svc
from tinytown.services import recovery as recovery_svc
from tinytown.services import tasks as task_svc
from tinytown.services.prune import prune_agents
from tinytown.town import Town


@tool(
    "agent.spawn",
    "Spawn a new agent and have the runtime run it",
    MANAGE,
    req("name", "string", "The agent's name"),
    opt("cli", "string", "Model CLI (default: the town's default_cli)"),
    opt("role_id", "string", "Role of the agent"),
    opt("nickname", "string", "Display name (default: a generated one)"),
    opt("parent_agent", "string", "Parent agent (name or UUID)"),
)
async def spawn(town: Town, args: Args) -> Any:
    from tinytown.runtime.settings import host_id
    from tinytown.runtime.spawning import spawn as spawn_agent

    parent = await _parent(town, args.opt_text("parent_agent"))
    nickname = args.opt_text("nickname")
    launch = await spawn_agent(
        town,
        args.text("name"),
        cli=args.opt_text("cli"),
        role=args.opt_text("role_id"),
        host=host_id(),
    )
    agent = launch.agent
    changes: dict[str, Any] = {}
    if nickname is not None:
        changes["nickname"] = nickname
    if parent is not None:
        changes["parent_agent_id"] = parent
    if changes:
        await town.channel.update_agent(agent.id, **changes)
    return {
        "agent_id": str(agent.id),
        "name": agent.name,
        "cli": agent.cli,
        "role_id": agent.role_id,
        "nickname": nickname if nickname is not None else agent.nickname,
        "parent_agent_id": str(parent) if parent is not None else None,
    }


async def _parent(town: Town, ref: str | None) -> AgentId | None:
    if ref is None:
        return None
    try:
        return AgentId.parse(ref)
    except InvalidInputError:
        pass
    try:
        aid, agent = await town.resolve(ref)
    except AgentNotFoundError:
        agent = None
    if agent is None:
        raise AgentNotFoundError(f"Parent agent '{ref}' not found")
    return aid


def _control(
    name: str, description: str, action: Callable[[Town, str], Awaitable[object]], status: str
) -> ToolSpec:
    """A tool that applies one agent-control service and reports ``{agent, status}``."""

    async def handler(town: Town, args: Args) -> Any:
        await action(town, args.text("agent"))
        return {"agent": args.text("agent"), "status": status}

    return ToolSpec(name, description, (AGENT_ARG,), handler, MANAGE)


kill = _control("agent.kill", "Stop an agent at its next round boundary", agent_svc.kill,
                "stopped")
interrupt = _control("agent.interrupt", "Pause an agent after its current round",
                     agent_svc.interrupt, "paused")
resume = _control("agent.resume", "Resume a paused agent", agent_svc.resume, "resumed")
close = _control("agent.close", "Drain an agent: finish the current round, then stop",
                 agent_svc.close, "draining")


@tool(
    "agent.wait",
    "Wait until an agent is Stopped, Error or Cold (or the timeout expires)",
    MANAGE,
    AGENT_ARG,
    opt("timeout_secs", "number", "Give up after this many seconds (default: wait forever)"),
    read_only=True,
)
async def wait(town: Town, args: Args) -> Any:
    done = await agent_svc.wait(town, args.text("agent"), args.opt_number("timeout_secs"))
    agent = await town.channel.get_agent(done.agent_id)
    return {
        "agent": args.text("agent"),
        "state": done.state.label,
        "rounds_completed": agent.rounds_completed if agent else 0,
        "tasks_completed": agent.tasks_completed if agent else 0,
    }


@tool("agent.restart", "Restart a stopped agent with a fresh round budget", MANAGE, AGENT_ARG)
async def restart(town: Town, args: Args) -> Any:
    from tinytown.runtime.settings import host_id
    from tinytown.runtime.spawning import restart as restart_agent

    await restart_agent(town, args.text("agent"), host=host_id())
    return {"agent": args.text("agent"), "status": "restarted"}


@tool(
    "agent.prune",
    "Remove Stopped and Error agents (every agent with all)",
    MANAGE,
    opt("all", "boolean", "Remove every agent", default=False),
)
async def prune(town: Town, args: Args) -> Any:
    """As ``tt prune``: the removed agents' pending tasks go to the backlog (listed per agent)."""
    removed = await prune_agents(town, everything=args.flag("all"))
    return {
        "removed": len(removed),
        "agents": [
            {
                "id": str(p.agent.id),
                "name": p.agent.name,
                "state": p.agent.state.label,
                "tasks_to_backlog": [str(t) for t in p.to_backlog],
            }
            for p in removed
        ],
    }


@tool(
    "agent.get_result",
    "The result of the agent's most recently completed task",
    MANAGE,
    AGENT_ARG,
    read_only=True,
)
async def get_result(town: Town, args: Args) -> Any:
    ref = args.text("agent")
    aid, _agent = await town.resolve(ref)
    listing = await task_svc.list_tasks(town, TaskState.COMPLETED, assignee=aid)
    finished = [t for t in listing.tasks if t.completed_at is not None]
    if not finished:
        return {"agent": ref, "result": None, "message": "No completed tasks found for this agent"}
    last = max(finished, key=lambda t: t.completed_at or t.updated_at)
    assert last.completed_at is not None
    return {
        "agent": ref,
        "task_id": str(last.id),
        "description": last.description,
        "result": last.result,
        "completed_at": rust_timestamp(last.completed_at),
    }


@tool(
    "recovery.recover_agents",
    "Mark agents whose runtime died (no heartbeat for 120 s) Stopped",
    MANAGE,
)
async def recover_agents(town: Town, _args: Args) -> Any:
    report = await recovery_svc.recover(town)
    return {
        "agents_checked": report.checked,
        "agents_recovered": len(report.recovered),
        "recovered_agents": [
            {"id": str(o.agent.id), "name": o.agent.name} for o in report.recovered
        ],
    }


@tool(
    "recovery.reclaim_tasks",
    "Move the tasks queued for dead agents to the backlog or to another agent",
    MANAGE,
    opt("to_backlog", "boolean", "Move them to the backlog", default=False),
    opt("to_agent", "string", "Move them (and other messages) to this agent"),
    opt("from_agent", "string", "Only the dead agent with this exact name"),
)
async def reclaim_tasks(town: Town, args: Args) -> Any:
    """Without a destination the tasks are only counted; nothing is moved or lost."""
    count, destination = await reclaim_svc.reclaim(
        town, to_backlog=args.flag("to_backlog"), to=args.opt_text("to_agent"),
        from_name=args.opt_text("from_agent"))
    return {"tasks_reclaimed": count, "destination": destination}


AGENT_TOOLS: tuple[ToolSpec, ...] = (
    spawn,
    kill,
    interrupt,
    wait,
    resume,
    close,
    restart,
    prune,
    get_result,
    recover_agents,
    reclaim_tasks,
)

