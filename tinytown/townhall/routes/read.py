"""``town.read`` routes: town, status, agents, pending tasks, backlog, inboxes (§5.3)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import document_querystring, document_response

from tinytown.services import backlog as backlog_service
from tinytown.services import inbox as inbox_service
from tinytown.services.overview import agent_overview
from tinytown.services.scaling import PEEK_PER_AGENT, pending_assignments
from tinytown.townhall.context import ctx
from tinytown.townhall.models import (
    AgentList,
    Backlog,
    Inbox,
    PendingTasks,
    Status,
    StatusQuery,
    TownInfo,
)
from tinytown.townhall.pipeline import BodyError, protected
from tinytown.townhall.views import agent_info, inbox_message

bp = Blueprint("read", __name__)
READ = "town.read"
BOOLS = {"true": True, "false": False, "1": True, "0": False}
MISSING_TASK = "(task record not found)"


def _town_doc() -> dict[str, Any]:
    town = ctx().town
    return {"name": town.name, "root": str(town.root), "redis_url": town.target.redacted}


@bp.get("/v1/town")
@protected(READ)
@document_response(TownInfo)
async def town_info() -> dict[str, Any]:
    """The town's name, directory and Redis URL (password redacted)."""
    return _town_doc()


@bp.get("/v1/status")
@protected(READ)
@document_querystring(StatusQuery)
@document_response(Status)
async def status() -> dict[str, Any]:
    """Every agent with its counters and queue sizes. ``deep`` is accepted and ignored."""
    deep = request.args.get("deep")
    if deep is not None and deep.lower() not in BOOLS:
        raise BodyError(400, f"Invalid query parameter deep={deep!r}: expected true or false")
    rows = await agent_overview(ctx().town)
    agents = []
    for row in rows:
        doc = agent_info(row.agent, row.current_scope)
        doc.update(
            rounds_completed=row.agent.rounds_completed,
            tasks_completed=row.agent.tasks_completed,
            inbox_len=row.inbox,
            urgent_len=row.urgent,
        )
        agents.append(doc)
    return {**_town_doc(), "agent_count": len(agents), "agents": agents}


@bp.get("/v1/agents")
@protected(READ)
@document_response(AgentList)
async def agents() -> dict[str, Any]:
    """Every agent (no counters)."""
    rows = await agent_overview(ctx().town)
    return {"agents": [agent_info(r.agent, r.current_scope) for r in rows], "count": len(rows)}


@bp.get("/v1/tasks/pending")
@protected(READ)
@document_response(PendingTasks)
async def pending_tasks() -> dict[str, Any]:
    """Tasks waiting in agents' regular inboxes (first 100 per agent)."""
    town = ctx().town
    pending = await pending_assignments(town, await town.channel.list_agents())
    tasks = [
        {"task_id": p.task_id, "description": p.description,
         "agent_id": str(p.agent.id), "agent_name": p.agent.name}
        for p in pending
    ]
    return {"tasks": tasks, "count": len(tasks)}


@bp.get("/v1/backlog")
@protected(READ)
@document_response(Backlog)
async def backlog() -> dict[str, Any]:
    """The backlog in queue order."""
    entries = await backlog_service.list_backlog(ctx().town)
    items = [
        {"task_id": str(e.task_id),
         "description": e.task.description if e.task else MISSING_TASK,
         "tags": list(e.task.tags) if e.task else []}
        for e in entries
    ]
    return {"backlog": items, "count": len(items)}


@bp.route("/v1/agents/<agent>/inbox", methods=["GET", "POST"])
@protected(READ)
@document_response(Inbox)
async def inbox(agent: str) -> dict[str, Any]:
    """An agent's inbox: sizes and the first 100 regular messages (POST: same, for 0.10 clients)."""
    town = ctx().town
    aid, _record = await town.resolve(agent)
    (sample,) = await inbox_service.sample_queues(town, [aid], PEEK_PER_AGENT)
    return {
        "agent": agent,
        "total": sample.length,
        "urgent": sample.urgent,
        "messages": [inbox_message(msg) for msg in sample.messages],
    }
