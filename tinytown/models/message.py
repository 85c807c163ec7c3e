"""Messages between agents and their types.

Every variant is its own frozen attrs class, reachable through the
:class:`MessageType` namespace (``MessageType.TaskAssign(task_id=...)``).
The wire tag of each variant is its ``TAG`` class variable. How messages
read (classification, summaries) is :mod:`tinytown.models.message_text`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, get_args

import attrs

from tinytown.errors import InvalidInputError
from tinytown.models.enums import Priority
from tinytown.models.ids import AgentId, MessageId, TaskId

# --- confirmation kinds ---------------------------------------------------------


@attrs.frozen
class Received:
    TAG: ClassVar[str] = "received"


@attrs.frozen
class Acknowledged:
    TAG: ClassVar[str] = "acknowledged"


@attrs.frozen
class Thanks:
    TAG: ClassVar[str] = "thanks"


@attrs.frozen
class Approved:
    TAG: ClassVar[str] = "approved"


@attrs.frozen
class Rejected:
    TAG: ClassVar[str] = "rejected"
    reason: str = ""


AckKind = Received | Acknowledged | Thanks | Approved | Rejected


class ConfirmationType:
    """Namespace of confirmation kinds (``ConfirmationType.Rejected(reason=...)``)."""

    Received = Received
    Acknowledged = Acknowledged
    Thanks = Thanks
    Approved = Approved
    Rejected = Rejected
    ALL: ClassVar[tuple[type, ...]] = get_args(AckKind)


# --- message variants --------------------------------------------------------------


@attrs.frozen
class Task:
    TAG: ClassVar[str] = "task"
    description: str


@attrs.frozen
class Query:
    TAG: ClassVar[str] = "query"
    question: str


@attrs.frozen
class Informational:
    TAG: ClassVar[str] = "informational"
    summary: str


@attrs.frozen
class Confirmation:
    TAG: ClassVar[str] = "confirmation"
    ack_type: AckKind = Received()


@attrs.frozen
class TaskAssign:
    TAG: ClassVar[str] = "task_assign"
    task_id: str


@attrs.frozen
class TaskDone:
    TAG: ClassVar[str] = "task_done"
    task_id: str
    result: str


@attrs.frozen
class TaskFailed:
    TAG: ClassVar[str] = "task_failed"
    task_id: str
    error: str


@attrs.frozen
class StatusRequest:
    TAG: ClassVar[str] = "status_request"


@attrs.frozen
class StatusResponse:
    TAG: ClassVar[str] = "status_response"
    state: str
    current_task: str | None = None


@attrs.frozen
class Ping:
    TAG: ClassVar[str] = "ping"


@attrs.frozen
class Pong:
    TAG: ClassVar[str] = "pong"


@attrs.frozen
class Shutdown:
    TAG: ClassVar[str] = "shutdown"


@attrs.frozen
class Custom:
    TAG: ClassVar[str] = "custom"
    kind: str
    payload: str = ""


MessageKind = (
    Task | Query | Informational | Confirmation | TaskAssign | TaskDone | TaskFailed
    | StatusRequest | StatusResponse | Ping | Pong | Shutdown | Custom
)


class MessageType:
    """Namespace of every message variant (``MessageType.Ping()``)."""

    Task = Task
    Query = Query
    Informational = Informational
    Confirmation = Confirmation
    TaskAssign = TaskAssign
    TaskDone = TaskDone
    TaskFailed = TaskFailed
    StatusRequest = StatusRequest
    StatusResponse = StatusResponse
    Ping = Ping
    Pong = Pong
    Shutdown = Shutdown
    Custom = Custom
    ALL: ClassVar[tuple[type, ...]] = get_args(MessageKind)


def _now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class Message:
    """One message in an inbox. ``kind`` is the variant (wire: flattened with a ``type`` tag)."""

    from_: AgentId
    to: AgentId
    kind: MessageKind
    priority: Priority = Priority.NORMAL
    id: MessageId = attrs.field(factory=MessageId.new)
    created_at: datetime = attrs.field(factory=_now)
    correlation_id: MessageId | None = None

    @property
    def is_actionable(self) -> bool:
        return is_actionable(self.kind)

    @property
    def is_informational_or_confirmation(self) -> bool:
        return not is_actionable(self.kind)

    @classmethod
    def new(
        cls,
        from_: AgentId,
        to: AgentId,
        kind: MessageKind | type[MessageKind],
        *,
        priority: Priority = Priority.NORMAL,
    ) -> Message:
        """A new message, as in the book (``Message.new(sender, recipient, MessageType.Ping)``).

        A variant without fields may be given uncalled (``MessageType.StatusRequest``).

        Raises:
            TypeError: an argument of the wrong kind, named in the message.
        """
        for role, value in (("from_", from_), ("to", to)):
            if not isinstance(value, AgentId):
                raise TypeError(
                    f"Message.new() takes AgentIds for {role!r}, got {type(value).__name__} "
                    f"(use AgentId.parse(text) or an agent handle's .id)"
                )
        if not isinstance(priority, Priority):
            raise TypeError(f"priority must be a Priority, got {type(priority).__name__}")
        return cls(from_=from_, to=to, kind=as_kind(kind), priority=priority)

    def reply(self, kind: MessageKind) -> Message:
        """A reply from the recipient, correlated with this message."""
        return Message(from_=self.to, to=self.from_, kind=kind, correlation_id=self.id)


_ACTIONABLE = (Task, Query, TaskAssign, StatusRequest, Ping, Shutdown, Custom)


def as_kind(kind: object) -> MessageKind:
    """``kind`` as a message variant; a variant without fields may be given uncalled.

    Raises:
        TypeError: not a ``MessageType`` variant, or a variant that needs fields, uncalled.
    """
    if isinstance(kind, type) and kind in MessageType.ALL:
        if attrs.fields(kind):
            needed = ", ".join(f"{f.name}=..." for f in attrs.fields(kind))
            raise TypeError(f"MessageType.{kind.__name__} needs its fields: "
                            f"MessageType.{kind.__name__}({needed})")
        made: MessageKind = kind()
        return made
    if not isinstance(kind, MessageType.ALL):
        raise TypeError(
            f"A message kind must be a MessageType variant (e.g. MessageType.Query("
            f"question=...)), got {type(kind).__name__}"
        )
    return kind  # type: ignore[return-value]  # ALL holds exactly the MessageKind variants


def assigned_task_id(kind: object) -> TaskId | None:
    """The task a ``task_assign`` names; None for other kinds or an id that is not a UUID."""
    if not isinstance(kind, TaskAssign):
        return None
    try:
        return TaskId.parse(kind.task_id)
    except InvalidInputError:
        return None


def is_actionable(kind: MessageKind) -> bool:
    """Library classification (data-model §5.4): does this message ask for work?"""
    return isinstance(kind, _ACTIONABLE)
