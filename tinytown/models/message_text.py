"""How messages read: the CLI's five-way classification and one-line summaries.

:func:`classify` decides what the CLI and the agent loop treat as work
(cli.md §0.7); :func:`compact_summary` and :func:`summarize` are the short
texts listings show (data-model §5.4, cli.md §0.7).
"""

from __future__ import annotations

import enum

from tinytown.models.message import (
    AckKind,
    Confirmation,
    Custom,
    Informational,
    MessageKind,
    Query,
    Rejected,
    Shutdown,
    StatusRequest,
    StatusResponse,
    Task,
    TaskAssign,
    TaskDone,
    TaskFailed,
)
from tinytown.models.text import cut


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
