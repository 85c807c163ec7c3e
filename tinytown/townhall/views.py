"""JSON shapes of the REST responses (townhall.md §5): pure functions of service results."""

from __future__ import annotations

from typing import Any

from tinytown.models import Agent, Message
from tinytown.models import message as m


def agent_info(agent: Agent, current_scope: str | None) -> dict[str, Any]:
    """An agent as ``/v1/agents`` lists it (state in PascalCase, as 0.10)."""
    return {
        "id": str(agent.id),
        "name": agent.name,
        "nickname": agent.nickname,
        "role_id": agent.role_id,
        "parent_agent_id": str(agent.parent_agent_id) if agent.parent_agent_id else None,
        "spawn_mode": agent.spawn_mode.value,
        "cli": agent.cli,
        "state": agent.state.label,
        "current_scope": current_scope,
    }


def _ack_name(ack: m.AckKind) -> str:
    if isinstance(ack, m.Rejected):
        return f'Rejected {{ reason: "{ack.reason}" }}'
    return type(ack).__name__


def message_summary(message: Message) -> tuple[str, str]:
    """The ``type`` and ``summary`` of an inbox entry (townhall.md §5.3)."""
    kind = message.kind
    match kind:
        case m.TaskAssign():
            return "task_assign", f"task assignment {kind.task_id}"
        case m.Task():
            return "task", kind.description
        case m.Query():
            return "query", kind.question
        case m.Informational():
            return "info", kind.summary
        case m.Confirmation():
            return "confirmation", _ack_name(kind.ack_type)
        case m.TaskDone():
            return "task_done", f"done {kind.task_id}: {kind.result}"
        case m.TaskFailed():
            return "task_failed", f"failed {kind.task_id}: {kind.error}"
        case m.StatusResponse():
            return "status_response", f"status: {kind.state}"
        case m.Custom():
            return f"custom:{kind.kind}", f"[{kind.kind}] {kind.payload}"
        case m.StatusRequest():
            return "status_request", "status request"
        case m.Ping():
            return "ping", "ping"
        case m.Pong():
            return "pong", "pong"
    return "shutdown", "shutdown"


def inbox_message(message: Message) -> dict[str, Any]:
    kind, summary = message_summary(message)
    return {"id": str(message.id), "from": str(message.from_), "type": kind, "summary": summary}
