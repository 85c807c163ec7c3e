"""Messages: ``tt send`` semantics and the inbox views (cli.md §0.7, §5.2, §5.3).

Services never read the environment: the sender's ``TINYTOWN_AGENT_ID`` /
``TINYTOWN_AGENT_NAME`` are passed in by the caller. Inbox views sample at
most ``INBOX_SAMPLE`` messages per queue and cost a constant number of round
trips whatever the number of agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from tinytown.errors import InvalidInputError, TinytownError
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    Category,
    ConfirmationType,
    Message,
    MessageKind,
    MessageType,
    TaskId,
    classify,
    summarize,
)
from tinytown.models.message import AckKind, assigned_task_id
from tinytown.town import Town

INBOX_SAMPLE: Final = 100
INBOX_PREVIEWS: Final = 10
SECTION_BULLETS: Final = 5
FALLBACK_BULLETS: Final = 3


# --- send (pure parts) -------------------------------------------------------------------


def parse_ack(text: str) -> AckKind:
    """The confirmation kind an ``--ack`` text means (cli.md §5.2)."""
    clean = text.strip()
    lowered = clean.lower()
    if lowered.startswith("rejected:"):
        reason = clean.split(":", 1)[1].strip()
        return ConfirmationType.Rejected(reason=reason or "No reason provided")
    if lowered.startswith("received"):
        return ConfirmationType.Received()
    if lowered.startswith("approved"):
        return ConfirmationType.Approved()
    if "thanks" in lowered or "thank you" in lowered:
        return ConfirmationType.Thanks()
    return ConfirmationType.Acknowledged()


def message_kind(
    text: str, *, query: bool = False, info: bool = False, ack: bool = False
) -> MessageKind:
    """The message a ``tt send`` builds; a plain send is a task.

    Raises:
        InvalidInputError: Several of query/info/ack, or an empty text.
    """
    if sum((query, info, ack)) > 1:
        raise InvalidInputError("--query, --info and --ack are mutually exclusive")
    if not text.strip():
        raise InvalidInputError("Message must not be empty")
    if query:
        return MessageType.Query(question=text)
    if info:
        return MessageType.Informational(summary=text)
    if ack:
        return MessageType.Confirmation(ack_type=parse_ack(text))
    return MessageType.Task(description=text)


# --- classification counts (pure) ---------------------------------------------------------


@attrs.frozen
class CategoryCounts:
    """How many sampled messages fall in each CLI category."""

    task: int = 0
    query: int = 0
    informational: int = 0
    confirmation: int = 0
    other: int = 0

    @property
    def needs_action(self) -> int:
        """ "Tasks requiring action": Task + OtherActionable."""
        return self.task + self.other

    @property
    def actionable(self) -> int:
        """Task + Query + OtherActionable."""
        return self.task + self.query + self.other

    def as_dict(self) -> dict[str, int]:
        return {
            "tasks": self.needs_action,
            "queries": self.query,
            "informational": self.informational,
            "confirmations": self.confirmation,
            "actionable": self.actionable,
        }


def count_categories(messages: Sequence[Message]) -> CategoryCounts:
    """Count messages per category (cli.md §0.7)."""
    n = dict.fromkeys(Category, 0)
    for m in messages:
        n[classify(m.kind)] += 1
    return CategoryCounts(
        task=n[Category.TASK],
        query=n[Category.QUERY],
        informational=n[Category.INFORMATIONAL],
        confirmation=n[Category.CONFIRMATION],
        other=n[Category.OTHER_ACTIONABLE],
    )


@attrs.frozen
class Preview:
    """One message shown in a listing: its category and one-line summary."""

    category: Category
    summary: str
    message: Message


def preview(message: Message, descriptions: dict[TaskId, str]) -> Preview:
    """Summary of a message, with the task's description for assignments when known."""
    desc = _assignment_desc(message.kind, descriptions)
    return Preview(classify(message.kind), summarize(message.kind, desc), message)


def bullet_text(p: Preview, descriptions: dict[TaskId, str]) -> str:
    """Inbox --all bullets as the book shows them: a task's description, else the summary."""
    desc = _assignment_desc(p.message.kind, descriptions)
    return desc if desc is not None else p.summary


def pick_bullets(previews: Sequence[Preview]) -> tuple[list[Preview], int]:
    """Bullets of an inbox --all section and how many needing-action messages were left out.

    Up to 5 messages that need action (tasks and other actionable); if none,
    the first 3 messages of any kind.
    """
    needing = [p for p in previews if p.category.needs_action]
    if needing:
        shown = needing[:SECTION_BULLETS]
        return shown, len(needing) - len(shown)
    return list(previews[:FALLBACK_BULLETS]), 0


def _assignment_desc(kind: MessageKind, descriptions: dict[TaskId, str]) -> str | None:
    tid = assigned_task_id(kind)
    return None if tid is None else descriptions.get(tid)


def assignment_ids(messages: Sequence[Message]) -> list[TaskId]:
    """Task ids named by ``task_assign`` messages (valid UUIDs only, first occurrence)."""
    out: dict[TaskId, None] = {}
    for m in messages:
        if (tid := assigned_task_id(m.kind)) is not None:
            out[tid] = None
    return list(out)


# --- send ------------------------------------------------------------------------------------


@attrs.frozen
class Sent:
    """A message just sent: to whom (``agent`` None for the supervisor), how, its type label."""

    message: Message
    agent: Agent | None
    urgent: bool

    @property
    def label(self) -> str:
        """``task``, ``query``, ``informational``, ``confirmation`` (the wire tag)."""
        return self.message.kind.TAG


async def resolve_sender(
    town: Town,
    from_ref: str | None,
    *,
    env_agent_id: str | None = None,
    env_agent_name: str | None = None,
) -> AgentId:
    """Who a message is from: ``--from``, else the agent context, else the supervisor.

    ``--from`` may be a UUID (taken as is) or any agent reference (errors
    propagate). ``env_agent_id`` is used if it is a UUID; ``env_agent_name``
    if it resolves (failures fall through to the supervisor).
    """
    if from_ref is not None and from_ref.strip():
        try:
            return AgentId.parse(from_ref)
        except InvalidInputError:
            return (await town.resolve(from_ref))[0]
    if env_agent_id and env_agent_id.strip():
        try:
            return AgentId.parse(env_agent_id)
        except InvalidInputError:
            pass
    if env_agent_name and env_agent_name.strip():
        try:
            return (await town.resolve(env_agent_name))[0]
        except TinytownError:
            pass
    return SUPERVISOR


async def send(
    town: Town,
    to_ref: str,
    text: str,
    *,
    query: bool = False,
    info: bool = False,
    ack: bool = False,
    urgent: bool = False,
    from_ref: str | None = None,
    env_agent_id: str | None = None,
    env_agent_name: str | None = None,
) -> Sent:
    """Send a semantic message (cli.md §5.2); ``urgent`` uses the urgent queue.

    Raises:
        InvalidInputError: Conflicting flags or an empty message.
        AgentNotFoundError: Unknown recipient (or unknown ``--from`` reference).
    """
    kind = message_kind(text, query=query, info=info, ack=ack)
    to_id, agent = await town.resolve(to_ref)
    sender = await resolve_sender(
        town, from_ref, env_agent_id=env_agent_id, env_agent_name=env_agent_name
    )
    message = Message(from_=sender, to=to_id, kind=kind)
    await deliver(town, message, urgent=urgent)
    return Sent(message=message, agent=agent, urgent=urgent)


async def deliver(town: Town, message: Message, *, urgent: bool = False) -> None:
    """Queue a message for its recipient: the urgent queue, else the inbox (by priority)."""
    if urgent:
        await town.channel.send_urgent(message)
    else:
        await town.channel.send(message)
