"""The small enumerations of the data model, spelled as stored on the wire."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class AgentType(enum.StrEnum):
    SUPERVISOR = "supervisor"
    WORKER = "worker"


class SpawnMode(enum.StrEnum):
    FRESH = "fresh"
    FORKED_CONTEXT = "forkedcontext"
    RESUMED = "resumed"


class AgentState(enum.StrEnum):
    """Life cycle of an agent. ``label`` is the capitalised form 0.10 prints."""

    COLD = "cold"
    STARTING = "starting"
    IDLE = "idle"
    WORKING = "working"
    PAUSED = "paused"
    DRAINING = "draining"
    STOPPED = "stopped"
    ERROR = "error"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def is_terminal(self) -> bool:
        return self in (AgentState.STOPPED, AgentState.ERROR, AgentState.COLD)

    @property
    def is_active(self) -> bool:
        return not self.is_terminal

    @property
    def is_prunable(self) -> bool:
        return self in (AgentState.STOPPED, AgentState.ERROR)


class TaskState(enum.StrEnum):
    """Life cycle of a task: pending → assigned → running → completed/failed/cancelled.

    As in tinytown 0.10 no transition is guarded (completing a completed task
    overwrites its result); :meth:`can_become` tells which moves are *normal*
    so callers that want to refuse odd moves can.
    """

    PENDING = "pending"
    ASSIGNED = "assigned"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED)

    def can_become(self, other: TaskState) -> bool:
        return other in TASK_MOVES[self]


_ENDINGS = {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED}
TASK_MOVES: Mapping[TaskState, frozenset[TaskState]] = MappingProxyType({
    TaskState.PENDING: frozenset({TaskState.ASSIGNED, TaskState.RUNNING, *_ENDINGS}),
    TaskState.ASSIGNED: frozenset(
        {TaskState.RUNNING, TaskState.PENDING, TaskState.ASSIGNED, *_ENDINGS}
    ),
    TaskState.RUNNING: frozenset({TaskState.PENDING, TaskState.ASSIGNED, *_ENDINGS}),
    TaskState.COMPLETED: frozenset(),
    TaskState.FAILED: frozenset({TaskState.PENDING, TaskState.ASSIGNED}),
    TaskState.CANCELLED: frozenset({TaskState.PENDING, TaskState.ASSIGNED}),
})
"""The normal task moves: :meth:`TaskState.can_become` and :mod:`tinytown.scripts` read it."""


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def jumps_queue(self) -> bool:
        """High and urgent messages are pushed at the head of the inbox (LPUSH)."""
        return self in (Priority.HIGH, Priority.URGENT)


class EventType(enum.StrEnum):
    AGENT_STATE_CHANGED = "agent_state_changed"
    AGENT_SPAWNED = "agent_spawned"
    AGENT_STOPPED = "agent_stopped"
    TASK_ASSIGNED = "task_assigned"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    MISSION_STATE_CHANGED = "mission_state_changed"
    MISSION_WORK_PROMOTED = "mission_work_promoted"
    MISSION_WORK_ASSIGNED = "mission_work_assigned"
    MISSION_WORK_COMPLETED = "mission_work_completed"
    MISSION_WORK_BLOCKED = "mission_work_blocked"
    MISSION_HELP_NEEDED = "mission_help_needed"
    MISSION_WATCH_TRIGGERED = "mission_watch_triggered"
    MISSION_EVENT = "mission_event"
    TASK_DELEGATED = "task_delegated"
    AGENT_INTERRUPTED = "agent_interrupted"
    AGENT_RESUMED = "agent_resumed"
    AGENT_COMPLETED = "agent_completed"
    AGENT_FAILED = "agent_failed"
    REVIEWER_HANDOFF = "reviewer_handoff"
    REVIEWER_APPROVAL = "reviewer_approval"
    CONDUCTOR_ESCALATION = "conductor_escalation"
