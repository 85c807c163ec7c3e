"""The data model: attrs classes without I/O. Imports nothing from tinytown but ``errors``."""

from tinytown.models.agent import (
    RESERVED_NAMES,
    Agent,
    is_valid_agent_name,
    validate_agent_name,
)
from tinytown.models.enums import AgentState, AgentType, EventType, Priority, SpawnMode, TaskState
from tinytown.models.event import Event
from tinytown.models.ids import SUPERVISOR, AgentId, MessageId, TaskId
from tinytown.models.message import (
    AckKind,
    ConfirmationType,
    Message,
    MessageKind,
    MessageType,
    is_actionable,
)
from tinytown.models.message_text import Category, classify, compact_summary, summarize
from tinytown.models.nicknames import nickname_for
from tinytown.models.task import Task

__all__ = [
    "RESERVED_NAMES",
    "SUPERVISOR",
    "AckKind",
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
    "nickname_for",
    "summarize",
    "validate_agent_name",
]
