"""The per-round prompt of an agent (agent-loop.md §4). Pure: no I/O, no clock.

How the actor uses this module, once per round::

    batch = batch_messages(urgent_msgs, normal_msgs)        # step 7: classify
    items = list(batch.items)
    if not items and snapshot.matching:                     # step 8: backlog nudge
        items.append(PromptItem(synthetic_backlog_query(agent_id, name, snapshot.matching)))
    items = [attrs.evolve(i, task=<record>) if i.task_id else i for i in items]
    text = build_prompt(PromptContext(town_name=..., agent_name=name, round_no=r,
                                      max_rounds=max_rounds, items=items,
                                      info_summaries=batch.info_summaries,
                                      confirmation_counts=batch.confirmation_counts,
                                      backlog=snapshot))

The snapshot comes from :func:`tinytown.services.backlog.snapshot_for_agent` (or the
pure :func:`~tinytown.services.backlog.backlog_snapshot`).

Machine-readable item lines (the built-in ``demo`` model parses them with
:mod:`tinytown.runtime.prompt_parse`; keep both in step). Each actionable item
starts with ``<i>. [<prio>] `` where ``<prio>`` is ``🚨 URGENT`` or ``normal``:

* a task assignment: ``<i>. [<prio>] task assignment from <sender uuid>``
  followed by ``   Task ID: <task id>`` and three more indented lines;
* anything else: ``<i>. [<prio>] from <sender uuid>: <summary>``, where a query's
  summary starts with ``question: ``.

Deviation from 0.10: urgent items carry the 🚨 marker the book promises
("Urgent messages injected into agent's prompt with 🚨 marker"), and the
``Current State`` section names the tracked task when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from tinytown.models import (
    SUPERVISOR,
    AgentId,
    Category,
    Message,
    MessageType,
    Task,
    TaskId,
    classify,
    summarize,
)
from tinytown.models.message import assigned_task_id
from tinytown.models.text import truncate_summary
from tinytown.runtime.prompt_parse import BACKLOG_NUDGE, NORMAL_TAG, URGENT_TAG
from tinytown.services.backlog import GENERAL, BacklogSnapshot

MAX_INFO_LINES = 8
INFO_SUMMARY_LEN = 100
CONFIRMATION_SUMMARY_LEN = 60
TASK_DESCRIPTION_LEN = 160
ITEM_SUMMARY_LEN = 120
BACKLOG_DESCRIPTION_LEN = 90


@attrs.frozen
class PromptItem:
    """One actionable message of the round.

    Attributes:
        message: the message as popped (or the synthetic backlog query).
        urgent: it came from the urgent queue.
        task: for a task assignment, the task record if it exists (looked up by
            the caller); ``None`` shows ``Task details unavailable``.
    """

    message: Message
    urgent: bool = False
    task: Task | None = None

    @property
    def task_id(self) -> TaskId | None:
        """The assigned task's id when this is a ``task_assign`` whose id is a UUID."""
        return assigned_task_id(self.message.kind)


@attrs.frozen
class RoundBatch:
    """The messages of one round, classified (agent-loop.md §3.2 step 7).

    Attributes:
        items: actionable messages (Task, Query, OtherActionable), urgent first.
        info_summaries: one truncated summary per informational message.
        confirmation_counts: confirmations counted by truncated summary.
    """

    items: tuple[PromptItem, ...] = ()
    info_summaries: tuple[str, ...] = ()
    confirmation_counts: Mapping[str, int] = attrs.field(factory=dict, hash=False)

    @property
    def confirmation_total(self) -> int:
        return sum(self.confirmation_counts.values())


def batch_messages(urgent: Iterable[Message], normal: Iterable[Message]) -> RoundBatch:
    """Classify a round's messages, the urgent ones first, preserving order."""
    items: list[PromptItem] = []
    infos: list[str] = []
    confirmations: dict[str, int] = {}
    tagged = [(m, True) for m in urgent] + [(m, False) for m in normal]
    for message, is_urgent in tagged:
        category = classify(message.kind)
        if category.is_actionable:
            items.append(PromptItem(message, urgent=is_urgent))
        elif category is Category.CONFIRMATION:
            key = truncate_summary(summarize(message.kind), CONFIRMATION_SUMMARY_LEN)
            confirmations[key] = confirmations.get(key, 0) + 1
        else:
            infos.append(truncate_summary(summarize(message.kind), INFO_SUMMARY_LEN))
    return RoundBatch(tuple(items), tuple(infos), confirmations)


def synthetic_backlog_query(agent_id: AgentId, agent_name: str, match_count: int) -> Message:
    """The supervisor's nudge when only the backlog has work for this agent (step 8)."""
    question = (
        f"{BACKLOG_NUDGE} Backlog has {match_count} role-matching task(s): "
        f"review and claim one with `tt backlog claim <task-id> {agent_name}`."
    )
    return Message(from_=SUPERVISOR, to=agent_id, kind=MessageType.Query(question=question))


def tracked_task_id(items: Sequence[PromptItem]) -> TaskId | None:
    """The task to track as current: only when exactly one item is a task assignment (§5.1)."""
    assigns = [i for i in items if isinstance(i.message.kind, MessageType.TaskAssign)]
    if len(assigns) != 1:
        return None
    return assigns[0].task_id


def _empty_backlog() -> BacklogSnapshot:
    return BacklogSnapshot(GENERAL, [], 0, 0)


@attrs.frozen(kw_only=True)
class PromptContext:
    """Everything a round's prompt shows.

    Attributes:
        town_name: the town's name.
        agent_name: the agent's canonical name.
        round_no: the display round (1-based).
        max_rounds: the agent's round budget.
        items: the actionable items, in order (urgent first).
        info_summaries: informational summaries (already truncated by
            :func:`batch_messages`).
        confirmation_counts: confirmations by summary.
        backlog: the agent's backlog snapshot.
        current_task: the tracked current task, if any.
    """

    town_name: str
    agent_name: str
    round_no: int
    max_rounds: int
    items: Sequence[PromptItem]
    info_summaries: Sequence[str] = ()
    confirmation_counts: Mapping[str, int] = attrs.field(factory=dict, hash=False)
    backlog: BacklogSnapshot = attrs.field(factory=_empty_backlog)
    current_task: TaskId | None = None


def build_prompt(ctx: PromptContext) -> str:
    """The markdown prompt of one round, sections in the order of agent-loop.md §4."""
    lines: list[str] = [
        f"# Agent: {ctx.agent_name}",
        "",
        f'You are agent "{ctx.agent_name}" in Tinytown "{ctx.town_name}".',
        "",
    ]
    lines += _actionable(ctx.items)
    lines += _informational(ctx.info_summaries)
    lines += _confirmations(ctx.confirmation_counts)
    lines += _commands(ctx.agent_name)
    lines += _backlog(ctx.backlog)
    lines += _state(ctx)
    lines += _WORKFLOW
    return "\n".join(lines) + "\n"


def _actionable(items: Sequence[PromptItem]) -> list[str]:
    out = ["## Actionable Messages (already popped)", ""]
    for index, item in enumerate(items, start=1):
        tag = URGENT_TAG if item.urgent else NORMAL_TAG
        sender = item.message.from_
        kind = item.message.kind
        if isinstance(kind, MessageType.TaskAssign):
            if item.task is not None and item.task_id is not None:
                description = truncate_summary(item.task.description, TASK_DESCRIPTION_LEN)
            else:
                description = "Task details unavailable"
            out += [
                f"{index}. [{tag}] task assignment from {sender}",
                f"   Task ID: {kind.task_id}",
                f"   Description: {description}",
                f'   Complete with: tt task complete {kind.task_id} --result "what was done"',
                "   Ignore any mission/work-item UUIDs in the description; "
                "the Task ID above is the real Tinytown task id.",
            ]
        else:
            summary = truncate_summary(summarize(kind), ITEM_SUMMARY_LEN)
            out.append(f"{index}. [{tag}] from {sender}: {summary}")
    return out


def _informational(summaries: Sequence[str]) -> list[str]:
    if not summaries:
        return []
    out = ["", "## Informational (batched summary)", ""]
    out += [f"- {s}" for s in summaries[:MAX_INFO_LINES]]
    if len(summaries) > MAX_INFO_LINES:
        out.append(f"- ...and {len(summaries) - MAX_INFO_LINES} more informational message(s)")
    return out


def _confirmations(counts: Mapping[str, int]) -> list[str]:
    if not counts:
        return []
    out = ["", "## Confirmations (auto-dismissed)", ""]
    out += [f"- {summary} x{counts[summary]}" for summary in sorted(counts)]
    return out


def _commands(agent_name: str) -> list[str]:
    return [
        "",
        "## Available Commands",
        "",
        "```bash",
        "tt status                                   # Check town status and all agents",
        'tt assign <agent> "task"                    # Assign actionable work to an agent',
        "tt backlog list                             # Review unassigned backlog tasks",
        f"tt backlog claim <task_id> {agent_name:<16} # Claim a backlog task for yourself",
        'tt send <agent> --query "question"          # Ask an agent for a response',
        'tt send <agent> --info "update"             # Send an FYI update',
        'tt send <agent> --ack "received"            # Send an acknowledgement',
        'tt send <agent> --urgent --query "..."      # Priority message for their next round',
        "tt task current                             # Show your tracked current assignment",
        'tt task complete <task_id> --result "summary"  # Mark a task as done',
        "```",
    ]


def _backlog(snapshot: BacklogSnapshot) -> list[str]:
    out = [
        "",
        "## Backlog Snapshot",
        "",
        f"- Total backlog tasks: {snapshot.total_backlog}",
        f"- Role-matching backlog tasks: {snapshot.matching}",
        f"- Role match hint: {snapshot.role.hint}",
    ]
    if snapshot.matching > 0:
        out += ["", "Review and claim role-matching items:"]
        for task in snapshot.matches:
            tags = f" [{', '.join(task.tags)}]" if task.tags else ""
            description = truncate_summary(task.description, BACKLOG_DESCRIPTION_LEN)
            out.append(f"- {task.id} - {description}{tags}")
        hidden = snapshot.matching - len(snapshot.matches)
        if hidden > 0:
            out.append(f"- ...and {hidden} more role-matching backlog task(s)")
    elif snapshot.total_backlog > 0:
        out += [
            "",
            "No backlog tasks currently match your role hint. "
            "Do not claim unrelated work by default.",
        ]
    return out


def _state(ctx: PromptContext) -> list[str]:
    out = [
        "",
        "## Current State",
        f"- Round: {ctx.round_no}/{ctx.max_rounds}",
        f"- Actionable messages: {len(ctx.items)}",
        f"- Urgent actionable: {sum(1 for i in ctx.items if i.urgent)}",
        f"- Batched informational: {len(ctx.info_summaries)}",
        f"- Auto-dismissed confirmations: {sum(ctx.confirmation_counts.values())}",
    ]
    if ctx.current_task is not None:
        out.append(f"- Current task: {ctx.current_task}")
    return out


_WORKFLOW = [
    "",
    "## Your Workflow",
    "",
    "1. Handle every actionable message listed above.",
    "2. If you have no direct assignment or have spare capacity, review the backlog "
    "and claim one role-matching task.",
    "3. Only claim backlog work that matches your role hint.",
    "4. Prefer direct agent-to-agent messages for concrete hand-offs, review requests "
    "and unblock checks.",
    "5. Message `supervisor` / `conductor` for human guidance, priority changes, "
    "sequencing, escalation or town-wide visibility.",
    "6. When blocked, send a query that states exactly what you need.",
    "7. Run `tt task current` to confirm the real task id before completing; never use "
    "mission/work-item UUIDs from descriptions.",
    '8. When a task is finished, run `tt task complete <task_id> --result "what was done"` '
    "(confidential text goes on stdin, where other local users cannot read it: "
    "`--result -`, and `-` for `tt send`/`tt assign` text).",
    "9. Send informational updates and confirmations as appropriate, including FYI "
    "summaries to supervisor/conductor.",
    "",
    "Run only the commands needed for the work listed above. This round's inbox messages "
    "are already included in this prompt: do not try to read your inbox.",
]
