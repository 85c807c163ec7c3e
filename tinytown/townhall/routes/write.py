"""``town.write`` routes: assign, backlog add/claim/assign-all/remove, send (§5.4)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_response

from tinytown.services import backlog as backlog_service
from tinytown.services import messages as message_service
from tinytown.services import tasks as task_service
from tinytown.townhall.context import ctx
from tinytown.townhall.models import (
    AgentRefRequest,
    Assigned,
    AssignedAll,
    AssignRequest,
    BacklogAdded,
    BacklogAddRequest,
    MessageSent,
    Removed,
    SendRequest,
)
from tinytown.townhall.pipeline import json_body, protected

bp = Blueprint("write", __name__)
WRITE = "town.write"
KINDS = {"query": "query", "info": "info", "ack": "ack"}


@bp.post("/v1/tasks/assign")
@protected(WRITE)
@json_body(AssignRequest)
@document_response(Assigned, 201)
async def assign(body: AssignRequest) -> tuple[dict[str, Any], int]:
    """Create a task assigned to an agent and queue its assignment message."""
    done = await task_service.assign(ctx().town, body.agent, body.task)
    return {"task_id": str(done.task.id), "agent_id": str(done.agent_id),
            "agent_name": body.agent}, 201


@bp.post("/v1/backlog")
@protected(WRITE)
@json_body(BacklogAddRequest)
@document_response(BacklogAdded, 201)
async def backlog_add(body: BacklogAddRequest) -> tuple[dict[str, Any], int]:
    """Add an unassigned task to the backlog."""
    task = await backlog_service.add(ctx().town, body.description, body.tags)
    return {"task_id": str(task.id), "description": task.description}, 201


@bp.post("/v1/backlog/<item:task_id>/claim")
@protected(WRITE)
@json_body(AgentRefRequest)
@document_response(Assigned)
async def backlog_claim(task_id: str, body: AgentRefRequest) -> dict[str, Any]:
    """Take a task out of the backlog and assign it (the agent is checked first)."""
    done = await backlog_service.claim(ctx().town, task_id, body.agent)
    name = done.agent.name if done.agent else "supervisor"
    return {"task_id": str(done.task.id), "agent_id": str(done.agent_id), "agent_name": name}


@bp.post("/v1/backlog/assign-all")
@protected(WRITE)
@json_body(AgentRefRequest)
@document_response(AssignedAll)
async def backlog_assign_all(body: AgentRefRequest) -> dict[str, Any]:
    """Assign every backlog task to one agent."""
    tasks = await backlog_service.assign_all(ctx().town, body.agent)
    return {"assigned": len(tasks), "tasks": [str(t.id) for t in tasks]}


@bp.delete("/v1/backlog/<item:task_id>")
@protected(WRITE)
@document_response(Removed)
async def backlog_remove(task_id: str) -> dict[str, Any]:
    """Remove a task from the backlog and delete its record."""
    tid = await backlog_service.remove(ctx().town, task_id)
    return {"removed": True, "task_id": str(tid)}


@bp.post("/v1/messages/send")
@protected(WRITE)
@json_body(SendRequest)
@document_response(MessageSent, 201)
async def send(body: SendRequest) -> tuple[dict[str, Any], int]:
    """Send a message: ``kind`` task (default), query, info or ack; ``urgent`` jumps the queue."""
    kind = KINDS.get((body.kind or "").strip().lower(), "task")
    sent = await message_service.send(
        ctx().town, body.to, body.message,
        query=kind == "query", info=kind == "info", ack=kind == "ack",
        urgent=body.urgent, from_ref=body.from_,
    )
    return {"message_id": str(sent.message.id), "to_agent": str(sent.message.to),
            "urgent": sent.urgent}, 201
