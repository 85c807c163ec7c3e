"""The JSON shapes of the MCP tools and resources (mcp.md §2–§4), pure functions.

``envelope_ok``/``envelope_error`` build 0.10's tool envelope: pretty-printed
JSON (2-space indent) with ``success`` and either ``data`` or ``error``.
Agent states are PascalCase (``Idle``), as in 0.10's REST and MCP JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tinytown.models import Agent, AgentId, Message, Task, TaskId
from tinytown.services.agents import AgentRow
from tinytown.services.backlog import BacklogEntry
from tinytown.townhall.views import agent_info
from tinytown.townhall.views import inbox_message as rest_inbox_message

MISSING_TASK = "(task record not found)"


def dump(value: object) -> str:
    """Pretty JSON as 0.10 prints it (2-space indent, UTF-8 text kept as is)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def envelope_ok(data: object) -> str:
    return dump({"success": True, "data": data})


def envelope_error(message: str) -> str:
    return dump({"success": False, "error": message})


def _id(value: AgentId | TaskId | None) -> str | None:
    return None if value is None else str(value)


def _counters(row: AgentRow) -> dict[str, Any]:
    return {"rounds_completed": row.agent.rounds_completed,
            "tasks_completed": row.agent.tasks_completed,
            "inbox_len": row.inbox, "urgent_len": row.urgent}


def agent_full(row: AgentRow, scopes: Mapping[TaskId, str]) -> dict[str, Any]:
    """AgentFull: REST's agent (``/v1/agents``) with counters before its current task's text."""
    a = row.agent
    doc = agent_info(a, scopes.get(a.current_task) if a.current_task else None)
    scope = doc.pop("current_scope")
    return {**doc, **_counters(row), "current_scope": scope}


def agent_brief(row: AgentRow) -> dict[str, Any]:
    """The 8-field agent object of the resources."""
    a = row.agent
    return {"id": str(a.id), "name": a.name, "cli": a.cli, "state": a.state.label,
            **_counters(row)}


def backlog_item(entry: BacklogEntry) -> dict[str, Any]:
    task = entry.task
    return {
        "task_id": str(entry.task_id),
        "description": task.description if task else MISSING_TASK,
        "tags": list(task.tags) if task else [],
    }


def task_view(task: Task) -> dict[str, Any]:
    """A task of ``tinytown://tasks/{id}``: 0.10's three fields, then its state and outcome."""
    return {
        "task_id": str(task.id),
        "description": task.description,
        "tags": list(task.tags),
        "state": task.state.value,
        "assigned_to": _id(task.assigned_to),
        "result": task.result,
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def rust_timestamp(when: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS.fffffffff UTC`` as 0.10 renders a completion time."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") + "000 UTC"


def inbox_message(message: Message) -> dict[str, Any]:
    """REST's inbox entry (one rendering for both surfaces) with mcp.md's ``urgent: false``."""
    return {**rest_inbox_message(message), "urgent": False}


def agent_ref_name(agent: Agent | None) -> str:
    """The canonical name of a resolved agent (``supervisor`` for the mailbox without record)."""
    return agent.name if agent is not None else "supervisor"
