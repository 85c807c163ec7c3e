"""Messages between agents and their types.

Every variant is its own frozen attrs class, reachable through the
:class:`MessageType` namespace (``MessageType.TaskAssign(task_id=...)``).
The wire tag of each variant is its ``TAG`` class variable.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import ClassVar

import attrs

from tinytown.errors import InvalidInputError
from tinytown.models.enums import Priority
from tinytown.models.ids import AgentId, MessageId, TaskId
from tinytown.models.text import cut

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
    ALL: ClassVar[tuple[type, ...]] = (Received, Acknowledged, Thanks, Approved, Rejected)


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
    Task
    | Query
    | Informational
    | Confirmation
    | TaskAssign
    | TaskDone
    | TaskFailed
    | StatusRequest
    | StatusResponse
    | Ping
    | Pong
    | Shutdown
    | Custom
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
    ALL: ClassVar[tuple[type, ...]] = (
        Task,
        Query,
        Informational,
        Confirmation,
        TaskAssign,
        TaskDone,
        TaskFailed,
        StatusRequest,
        StatusResponse,
        Ping,
        Pong,
        Shutdown,
        Custom,
    )


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

    def readdressed(self, to: AgentId) -> Message:
        """The same message (id, priority, time kept) addressed to another agent."""
        return attrs.evolve(self, to=to)

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


def is_informational_or_confirmation(kind: MessageKind) -> bool:
    return not isinstance(kind, _ACTIONABLE)


class Category(enum.Enum):
    """The CLI's five-way classification (cli.md §0.7)."""

    TASK = "T"
    QUERY = "Q"
    INFORMATIONAL = "I"
    CONFIRMATION = "C"
    OTHER_ACTIONABLE = "!"

    @property
    def prefix(self) -> str:
        return f"[{self.value}]"

    @property
    def is_actionable(self) -> bool:
        return self in (Category.TASK, Category.QUERY, Category.OTHER_ACTIONABLE)

    @property
    def needs_action(self) -> bool:
        """Counted as "tasks requiring action"."""
        return self in (Category.TASK, Category.OTHER_ACTIONABLE)


_CONFIRM_WORDS = ("ack", "thanks", "thank you", "received", "approved")
_INFO_WORDS = ("info", "fyi", "status", "update")
_QUERY_WORDS = ("query", "question")


def classify(kind: MessageKind) -> Category:
    """Classify a message for CLI displays and the agent loop (cli.md §0.7)."""
    match kind:
        case Task() | TaskAssign():
            return Category.TASK
        case Query() | StatusRequest():
            return Category.QUERY
        case Confirmation():
            return Category.CONFIRMATION
        case Shutdown():
            return Category.OTHER_ACTIONABLE
        case Custom(kind=k, payload=p):
            text = f"{k.lower()} {p.lower()}"
            if any(w in text for w in _CONFIRM_WORDS):
                return Category.CONFIRMATION
            if any(w in text for w in _INFO_WORDS):
                return Category.INFORMATIONAL
            if any(w in text for w in _QUERY_WORDS):
                return Category.QUERY
            return Category.TASK
        case _:
            return Category.INFORMATIONAL


def _ack_text(ack: AckKind) -> str:
    if isinstance(ack, Rejected):
        return f"rejected: {ack.reason}"
    return ack.TAG


def compact_summary(kind: MessageKind) -> str:
    """Library display helper (data-model §5.4): ``task: <desc≤72>`` and friends."""
    match kind:
        case Task(description=d):
            return f"task: {cut(d, 72)}"
        case Query(question=q):
            return f"query: {cut(q, 72)}"
        case Informational(summary=s):
            return f"info: {cut(s, 72)}"
        case Confirmation(ack_type=Rejected(reason=r)):
            return f"confirmation: rejected ({cut(r, 56)})"
        case Confirmation(ack_type=a):
            return f"confirmation: {a.TAG}"
        case TaskAssign(task_id=t):
            return f"task_assign: {cut(t, 40)}"
        case TaskDone(task_id=t):
            return f"task_done: {cut(t, 40)}"
        case TaskFailed(task_id=t):
            return f"task_failed: {cut(t, 40)}"
        case StatusResponse(state=s, current_task=None):
            return f"status_response: {cut(s, 32)}"
        case StatusResponse(state=s, current_task=t):
            return f"status_response: {cut(s, 32)} ({cut(t or '', 32)})"
        case Custom(kind=k):
            return f"custom: {cut(k, 40)}"
        case _:
            return kind.TAG


def summarize(kind: MessageKind, task_description: str | None = None) -> str:
    """CLI one-line summary (cli.md §0.7); pass the task's description for assignments."""
    match kind:
        case TaskAssign(task_id=t):
            return f"task {t}: {task_description}" if task_description is not None else f"task {t}"
        case Task(description=d):
            return d
        case Query(question=q):
            return f"question: {q}"
        case Informational(summary=s):
            return s
        case Confirmation(ack_type=a):
            return _ack_text(a)
        case TaskDone(task_id=t, result=r):
            return f"task {t} done: {r}"
        case TaskFailed(task_id=t, error=e):
            return f"task {t} failed: {e}"
        case StatusRequest():
            return "status requested"
        case StatusResponse(state=s, current_task=t):
            return f"status {s} ({t})" if t else f"status {s}"
        case Shutdown():
            return "shutdown requested"
        case Custom(kind=k, payload=p):
            return f"[{k}] {p}"
        case _:
            return kind.TAG
