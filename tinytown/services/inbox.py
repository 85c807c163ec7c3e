"""Inbox views: one agent's inbox, and every inbox at once (cli.md §5.3).

``inbox_all`` costs four round trips whatever the number of agents and
messages: the agent listing (KEYS + one pipeline), one pipeline for every
queue length and sample, one pipeline for the tasks the shown messages name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from tinytown.channel import decode_messages, reply_or
from tinytown.models import SUPERVISOR, Agent, AgentId, Message, TaskId
from tinytown.services.deadletters import DeadLetters, dead_letters
from tinytown.services.messages import (
    INBOX_PREVIEWS,
    INBOX_SAMPLE,
    CategoryCounts,
    Preview,
    assignment_ids,
    bullet_text,
    count_categories,
    pick_bullets,
    preview,
)
from tinytown.town import Town


@attrs.frozen
class QueueSample:
    """The sizes of an agent's queues and the first messages of its inbox."""

    agent_id: AgentId
    length: int
    urgent: int
    messages: list[Message]

    @property
    def sampled(self) -> int:
        return len(self.messages)


@attrs.frozen(kw_only=True)
class InboxHead:
    """What every inbox view says of one queue: its sizes and the categories of its sample."""

    agent_id: AgentId
    agent: Agent | None
    length: int
    urgent: int
    sampled: int
    counts: CategoryCounts

    @classmethod
    def fields_of(cls, agent: Agent | None, sample: QueueSample) -> dict[str, Any]:
        """The head's fields for ``sample`` (``agent`` None: the supervisor mailbox)."""
        return {"agent_id": sample.agent_id, "agent": agent, "length": sample.length,
                "urgent": sample.urgent, "sampled": sample.sampled,
                "counts": count_categories(sample.messages)}

    @property
    def is_supervisor(self) -> bool:
        return self.agent_id.is_supervisor


@attrs.frozen(kw_only=True)
class InboxView(InboxHead):
    """One agent's inbox: its head and the first previews."""

    previews: list[Preview]
    dead: DeadLetters = attrs.field(factory=DeadLetters)


@attrs.frozen(kw_only=True)
class InboxSection(InboxHead):
    """One non-empty inbox in ``inbox --all``; ``agent`` is None for the supervisor mailbox.

    Attributes:
        bullets: Texts to list (task descriptions for assignments, else summaries).
        more: Messages needing action that were not listed.
    """

    bullets: list[str]
    more: int


@attrs.frozen
class AllInboxes:
    """Every non-empty inbox, agents in creation order, then the supervisor mailbox."""

    agent_count: int
    sections: list[InboxSection]

    @property
    def total_actionable(self) -> int:
        return sum(s.counts.actionable for s in self.sections)

    @property
    def nothing_at_all(self) -> bool:
        """No agents and an empty supervisor mailbox."""
        return self.agent_count == 0 and not self.sections


async def sample_queues(
    town: Town, agent_ids: Sequence[AgentId], n: int = INBOX_SAMPLE
) -> list[QueueSample]:
    """Queue lengths and the first ``n`` inbox messages of many agents, in one round trip."""
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    for aid in agent_ids:
        pipe.cmd("LLEN", keys.inbox(aid))
        pipe.cmd("LLEN", keys.urgent(aid))
        pipe.cmd("LRANGE", keys.inbox(aid), 0, n - 1)
    # A queue key of the wrong type is warned about and shown empty, not fatal.
    replies = await pipe.execute(raise_on_error=False)
    return [
        QueueSample(
            aid,
            reply_or(replies[3 * i], keys.inbox(aid), 0),
            reply_or(replies[3 * i + 1], keys.urgent(aid), 0),
            decode_messages(reply_or(replies[3 * i + 2], keys.inbox(aid), []), keys.inbox(aid)),
        )
        for i, aid in enumerate(agent_ids)
    ]


async def task_descriptions(town: Town, task_ids: Sequence[TaskId]) -> dict[TaskId, str]:
    """Descriptions of the named tasks that exist (one round trip)."""
    tasks = await town.channel.get_tasks(list(task_ids))
    return {tid: t.description for tid, t in tasks.items()}


async def inbox(town: Town, agent_ref: str) -> InboxView:
    """One agent's inbox (or the supervisor mailbox).

    Raises:
        AgentNotFoundError: No agent matches ``agent_ref``.
    """
    aid, agent = await town.resolve(agent_ref)
    (sample,) = await sample_queues(town, [aid])
    dead = await dead_letters(town, aid)
    shown = sample.messages[:INBOX_PREVIEWS]
    descriptions = await task_descriptions(town, assignment_ids(shown))
    return InboxView(**InboxView.fields_of(agent, sample), dead=dead,
                     previews=[preview(m, descriptions) for m in shown])


def build_sections(
    agents: Sequence[Agent | None], samples: Sequence[QueueSample], descriptions: dict[TaskId, str]
) -> list[InboxSection]:
    """Sections for every non-empty inbox (pure); ``agents[i]`` None means the supervisor."""
    sections = []
    for agent, sample in zip(agents, samples, strict=True):
        if sample.length == 0 and sample.urgent == 0:
            continue
        previews = [preview(m, descriptions) for m in sample.messages]
        bullets, more = pick_bullets(previews)
        sections.append(InboxSection(**InboxSection.fields_of(agent, sample), more=more,
                                     bullets=[bullet_text(p, descriptions) for p in bullets]))
    return sections


def bullet_task_ids(samples: Sequence[QueueSample]) -> list[TaskId]:
    """Task ids of the assignments that will be listed as bullets (pure)."""
    out: list[TaskId] = []
    for sample in samples:
        previews = [preview(m, {}) for m in sample.messages]
        shown, _ = pick_bullets(previews)
        out.extend(assignment_ids([p.message for p in shown]))
    return out


async def inbox_all(town: Town) -> AllInboxes:
    """Every agent's inbox and the supervisor mailbox (constant round trips)."""
    agents = await town.channel.list_agents()
    ids = [a.id for a in agents] + [SUPERVISOR]
    samples = await sample_queues(town, ids)
    wanted = bullet_task_ids(samples)
    descriptions = await task_descriptions(town, wanted) if wanted else {}
    sections = build_sections([*agents, None], samples, descriptions)
    return AllInboxes(agent_count=len(agents), sections=sections)
