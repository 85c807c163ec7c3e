"""``agent.manage`` routes: spawn, kill, restart, prune, recover, reclaim, orphan tasks (§5.5).

Unlike 0.10, whose ``POST /v1/agents`` and ``restart`` only wrote a record that
no runtime might ever run, both do what ``tt spawn``/``tt restart`` do: the
host's runtime is started if needed and runs the agent (the model CLI must be
installed: 422 otherwise). ``reclaim`` with neither ``to_backlog`` nor ``to``
only counts what it would move (0.10 drained and discarded it).
"""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint
from quart_schema import document_response

from tinytown.errors import AgentNotFoundError, InvalidInputError
from tinytown.models import AgentId
from tinytown.runtime import spawning
from tinytown.runtime.settings import host_id
from tinytown.services import agents as agent_service
from tinytown.services import orphan_tasks, reclaim, recovery
from tinytown.townhall.context import ctx
from tinytown.townhall.models import (
    AgentControl,
    OrphanRequest,
    Orphans,
    Pruned,
    PruneRequest,
    Reclaimed,
    ReclaimRequest,
    Recovered,
    Spawned,
    SpawnRequest,
)
from tinytown.townhall.pipeline import json_body, protected

bp = Blueprint("manage", __name__)
MANAGE: Final = "agent.manage"
ORPHAN_ACTIONS: Final = {
    "list": None,
    "to_backlog": orphan_tasks.OrphanAction.BACKLOG,
    "backlog": orphan_tasks.OrphanAction.BACKLOG,
    "cancel": orphan_tasks.OrphanAction.CANCEL,
    "delete": orphan_tasks.OrphanAction.DELETE,
}
ORPHAN_REASONS: Final = {
    orphan_tasks.OrphanReason.MISSING: "agent_missing",
    orphan_tasks.OrphanReason.TERMINAL: "agent_terminal",
}


@bp.post("/v1/agents")
@protected(MANAGE)
@json_body(SpawnRequest)
@document_response(Spawned, 201)
async def spawn(body: SpawnRequest) -> tuple[dict[str, Any], int]:
    """Create an agent and have this host's runtime run it (as ``tt spawn``)."""
    town = ctx().town
    parent = None if body.parent_agent_id is None else AgentId.parse(str(body.parent_agent_id))
    if parent is not None and await town.channel.get_agent(parent) is None:
        raise AgentNotFoundError(f"Parent agent '{parent}' not found")
    launch = await spawning.spawn(town, body.name, cli=body.cli, role=body.role_id,
                                  host=host_id())
    agent = launch.agent
    changes: dict[str, Any] = {}
    if body.nickname is not None:
        changes["nickname"] = body.nickname
    if parent is not None:
        changes["parent_agent_id"] = parent
    if changes:
        await town.channel.update_agent(agent.id, **changes)
    return {
        "agent_id": str(agent.id), "name": agent.name, "cli": agent.cli,
        "role_id": body.role_id, "nickname": body.nickname or agent.nickname,
        "parent_agent_id": str(parent) if parent else None,
    }, 201


@bp.post("/v1/agents/<agent>/kill")
@protected(MANAGE)
@document_response(AgentControl)
async def kill(agent: str) -> dict[str, Any]:
    """Stop an agent after its current round."""
    await agent_service.kill(ctx().town, agent)
    return {"status": "stopped", "agent": agent}


@bp.post("/v1/agents/<agent>/restart")
@protected(MANAGE)
@document_response(AgentControl)
async def restart(agent: str) -> dict[str, Any]:
    """Restart a stopped agent (fresh rounds) and have this host's runtime run it."""
    await spawning.restart(ctx().town, agent, host=host_id())
    return {"status": "restarted", "agent": agent}


@bp.post("/v1/agents/prune")
@protected(MANAGE)
@json_body(PruneRequest)
@document_response(Pruned)
async def prune(body: PruneRequest) -> dict[str, Any]:
    """Remove Stopped and Error agents (every agent with ``all``)."""
    removed = await agent_service.prune(ctx().town, everything=body.all)
    return {"removed": len(removed), "agents": [a.name for a in removed]}


@bp.post("/v1/recover")
@protected(MANAGE)
@document_response(Recovered)
async def recover() -> dict[str, Any]:
    """Mark agents whose heartbeat went silent Stopped and requeue their messages."""
    report = await recovery.recover(ctx().town)
    names = [o.agent.name for o in report.recovered]
    return {"checked": report.checked, "recovered": len(names), "agents": names}


@bp.post("/v1/reclaim")
@protected(MANAGE)
@json_body(ReclaimRequest)
@document_response(Reclaimed)
async def reclaim_work(body: ReclaimRequest) -> dict[str, Any]:
    """Move the task messages of dead agents to the backlog or to another agent."""
    count, destination = await reclaim.reclaim(
        ctx().town, to_backlog=body.to_backlog, to=body.to, from_name=body.from_)
    return {"reclaimed": count, "destination": destination}


@bp.post("/v1/reclaim/orphan-tasks")
@protected(MANAGE)
@json_body(OrphanRequest, optional=True)
@document_response(Orphans)
async def orphans(body: OrphanRequest) -> dict[str, Any]:
    """List live tasks whose assignee is missing or dead; requeue, cancel or delete them."""
    name = (body.action or "list").strip() or "list"
    if name not in ORPHAN_ACTIONS:
        raise InvalidInputError(
            f"unknown action '{name}': expected one of list|to_backlog|cancel|delete"
        )
    town = ctx().town
    found = await orphan_tasks.scan_orphan_tasks(town)
    docs = [
        {"task_id": str(o.task.id),
         "assigned_to": str(o.task.assigned_to) if o.task.assigned_to else "",
         "state": o.task.state.value, "reason": ORPHAN_REASONS[o.reason]}
        for o in found
    ]
    action = ORPHAN_ACTIONS[name]
    if action is not None:
        acted = {o.task.id for o in await orphan_tasks.act_on_orphan_tasks(town, found, action)}
        docs = [d for d, o in zip(docs, found, strict=True) if o.task.id in acted]
    canonical = "to_backlog" if name == "backlog" else name
    return {"action": canonical, "count": len(docs), "orphans": docs}
