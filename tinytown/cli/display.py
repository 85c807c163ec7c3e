"""Pure display helpers of the CLI (cli.md §0.6): times, short ids, JSON documents.

Nothing here does I/O. Functions that depend on the time take ``now``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tinytown.codec import agent_to_json, event_to_json, task_to_json
from tinytown.models import Agent, Event, Task, TaskId
from tinytown.models.text import ELLIPSIS

TASK_ID_PREFIX_LEN = 8


def format_duration(delta: timedelta) -> str:
    """Uptime / age: ``1h 23m``, ``45m 12s`` or ``5s`` (negative durations count as 0)."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds // 60 % 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds}s"


def format_ago(delta: timedelta) -> str:
    """``2h 5m ago``, ``7m ago`` or ``just now`` (used for running tasks)."""
    minutes = max(int(delta.total_seconds()), 0) // 60
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60}m ago"
    if minutes >= 1:
        return f"{minutes}m ago"
    return "just now"


def book_ts(dt: datetime) -> str:
    """The book's ``tt task show`` form: ``2025-03-09T12:00:00Z`` (UTC, whole seconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(dt: datetime) -> str:
    """``HH:MM:SS`` in UTC, as history and event lines show times."""
    return dt.astimezone(UTC).strftime("%H:%M:%S")


def task_ref(task_id: TaskId) -> str:
    """A task id shortened as the book's ``tt task list`` shows it: ``550e8400-...``."""
    return str(task_id)[: TASK_ID_PREFIX_LEN + 1] + ELLIPSIS


def task_short(task_id: TaskId) -> str:
    """The first group of a task id (``550e8400``), used in dense listings."""
    return str(task_id)[:TASK_ID_PREFIX_LEN]


# --- JSON documents for --json ---------------------------------------------------------


def task_doc(task: Task) -> dict[str, Any]:
    """A task as the JSON object of data-model.md (the wire form)."""
    doc: dict[str, Any] = json.loads(task_to_json(task))
    return doc


def agent_doc(agent: Agent) -> dict[str, Any]:
    """An agent as its JSON wire object plus ``label`` and ``short_id``."""
    doc: dict[str, Any] = json.loads(agent_to_json(agent))
    doc["label"] = agent.label
    doc["short_id"] = agent.short_id
    return doc


def event_doc(entry_id: str, event: Event) -> dict[str, Any]:
    """An event as its JSON wire object plus its stream entry ``id``."""
    doc: dict[str, Any] = {"id": entry_id}
    doc.update(json.loads(event_to_json(event)))
    return doc
