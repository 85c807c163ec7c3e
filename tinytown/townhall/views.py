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


def _wire_summary(kind: m.MessageKind) -> str:
    match kind:
        case m.TaskAssign(task_id=tid):
            return f"task assignment {tid}"
        case m.Task(description=text) | m.Query(question=text) | m.Informational(summary=text):
            return text
        case m.Confirmation(ack_type=m.Rejected(reason=reason)):
            return f'Rejected {{ reason: "{reason}" }}'
        case m.Confirmation(ack_type=ack):
            return type(ack).__name__
        case m.TaskDone(task_id=tid, result=result):
            return f"done {tid}: {result}"
        case m.TaskFailed(task_id=tid, error=error):
            return f"failed {tid}: {error}"
        case m.StatusResponse(state=state):
            return f"status: {state}"
        case m.StatusRequest():
            return "status request"
        case m.Custom(kind=name, payload=payload):
            return f"[{name}] {payload}"
    return kind.TAG  # ping, pong, shutdown


def inbox_message(message: Message) -> dict[str, Any]:
    """An inbox entry of REST ``/v1/agents/{agent}/inbox`` and MCP ``agent.inbox``
    (townhall.md §5.3): ``type`` is the wire tag (``info``, ``custom:<kind>``), ``summary``
    the text or a fixed rendering."""
    kind = message.kind
    wire_type = ("info" if isinstance(kind, m.Informational)
                 else f"custom:{kind.kind}" if isinstance(kind, m.Custom) else kind.TAG)
    return {"id": str(message.id), "from": str(message.from_), "type": wire_type,
            "summary": _wire_summary(kind)}
