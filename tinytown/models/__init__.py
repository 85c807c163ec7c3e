"""The data model: attrs classes without I/O. Imports nothing from tinytown but ``errors``."""

from tinytown.models.agent import Agent, is_valid_agent_name, validate_agent_name
from tinytown.models.enums import AgentState, AgentType, EventType, Priority, SpawnMode, TaskState
from tinytown.models.event import Event
from tinytown.models.ids import SUPERVISOR, AgentId, MessageId, TaskId
from tinytown.models.message import (
    ConfirmationType,
    Message,
    MessageKind,
    MessageType,
    is_actionable,
)
from tinytown.models.message_text import Category, classify, compact_summary, summarize
from tinytown.models.task import Task

__all__ = [
    "SUPERVISOR",
    "Agent",
    "AgentId",
    "AgentState",
    "AgentType",
    "Category",
    "ConfirmationType",
    "Event",
    "EventType",
    "Message",
    "MessageId",
    "MessageKind",
    "MessageType",
    "Priority",
    "SpawnMode",
    "Task",
    "TaskId",
    "TaskState",
    "classify",
    "compact_summary",
    "is_actionable",
    "is_valid_agent_name",
    "summarize",
    "validate_agent_name",
]
