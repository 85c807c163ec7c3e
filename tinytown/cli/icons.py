"""The emoji the CLI shows for states, statuses and events (presentation: adapters only).

Models and services return data; the pictures that go with it live here, one
table per enumeration (enum members of different types may share a value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tinytown.models import AgentState, EventType, TaskState
from tinytown.models.mission_enums import MissionState, WatchStatus, WorkStatus

UNKNOWN: Final = "❓"

AGENT_STATES: Final[Mapping[AgentState, str]] = {
    AgentState.COLD: "🧊",
    AgentState.STARTING: "🔄",
    AgentState.IDLE: "💤",
    AgentState.WORKING: "⚡",
    AgentState.PAUSED: "⏸️",
    AgentState.DRAINING: "🔻",
    AgentState.STOPPED: "⏹️",
    AgentState.ERROR: "❌",
}

TASK_STATES: Final[Mapping[TaskState, str]] = {
    TaskState.PENDING: "⏳",
    TaskState.ASSIGNED: "📌",
    TaskState.RUNNING: "🔄",
    TaskState.COMPLETED: "✅",
    TaskState.FAILED: "❌",
    TaskState.CANCELLED: "🚫",
}

EVENTS: Final[Mapping[EventType, str]] = {
    EventType.AGENT_SPAWNED: "🐣",
    EventType.AGENT_STOPPED: "🏁",
    EventType.AGENT_COMPLETED: "🏁",
    EventType.AGENT_STATE_CHANGED: "🔄",
    EventType.TASK_ASSIGNED: "📌",
    EventType.TASK_COMPLETED: "✅",
    EventType.TASK_FAILED: "❌",
    EventType.TASK_DELEGATED: "🤝",
    EventType.REVIEWER_HANDOFF: "👀",
    EventType.REVIEWER_APPROVAL: "✅",
    EventType.CONDUCTOR_ESCALATION: "🚨",
    EventType.AGENT_INTERRUPTED: "⏸️",
    EventType.AGENT_RESUMED: "▶️",
    EventType.AGENT_FAILED: "💥",
    EventType.MISSION_STATE_CHANGED: "🎯",
    EventType.MISSION_EVENT: "🎯",
    EventType.MISSION_WORK_PROMOTED: "📋",
    EventType.MISSION_WORK_ASSIGNED: "📋",
    EventType.MISSION_WORK_COMPLETED: "📋",
    EventType.MISSION_WORK_BLOCKED: "📋",
    EventType.MISSION_HELP_NEEDED: "🆘",
    EventType.MISSION_WATCH_TRIGGERED: "👁️",
}

MISSION_STATES: Final[Mapping[MissionState, str]] = {
    MissionState.PLANNING: "📝",
    MissionState.RUNNING: "🚀",
    MissionState.BLOCKED: "🚧",
    MissionState.COMPLETED: "✅",
    MissionState.FAILED: "❌",
}

WORK_STATUSES: Final[Mapping[WorkStatus, str]] = {
    WorkStatus.PENDING: "⏳",
    WorkStatus.READY: "🔵",
    WorkStatus.ASSIGNED: "📌",
    WorkStatus.RUNNING: "🔄",
    WorkStatus.BLOCKED: "🚧",
    WorkStatus.DONE: "✅",
}

WATCH_STATUSES: Final[Mapping[WatchStatus, str]] = {
    WatchStatus.ACTIVE: "🟢",
    WatchStatus.SNOOZED: "😴",
    WatchStatus.DONE: "✅",
}


def event_icon(event_type: EventType) -> str:
    return EVENTS.get(event_type, "•")


def plan_icon(status: str) -> str:
    """The icon of a ``tasks.toml`` status (the task states' pictures; unknown: ❓)."""
    try:
        return TASK_STATES[TaskState(status)]
    except ValueError:
        return UNKNOWN
